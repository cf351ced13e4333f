from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaff(BasePermission):
    """Staff only: the learners' personal data and the exercise bank's curation."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class ReadOrStaff(BasePermission):
    """Any authenticated client may read; changes need staff."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.is_staff


class CreateOrStaff(BasePermission):
    """Any authenticated client may create (report errors); reading and deleting need staff."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method == "POST" or request.user.is_staff
