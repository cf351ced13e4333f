from rest_framework.permissions import SAFE_METHODS, IsAuthenticated


class ReadOrStaff(IsAuthenticated):
    """Any authenticated client may read; changes need staff."""

    def has_permission(self, request, view):
        return super().has_permission(request, view) and (request.method in SAFE_METHODS or request.user.is_staff)


class CreateOrStaff(IsAuthenticated):
    """Any authenticated client may create (report errors); reading and deleting need staff."""

    def has_permission(self, request, view):
        return super().has_permission(request, view) and (request.method == "POST" or request.user.is_staff)
