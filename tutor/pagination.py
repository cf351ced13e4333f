from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from tutor.fields import BoundedIntegerField


class PageQuery(serializers.Serializer):
    limit = BoundedIntegerField(min_value=1, max_value=1000, required=False)
    offset = BoundedIntegerField(min_value=0, max_value=2**31 - 1, required=False)


class EnvelopePagination(LimitOffsetPagination):
    """Limit/offset pages in the reference's envelope; a bad limit or offset is a 400, not ignored."""

    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        query = PageQuery(data=request.query_params.dict())  # a plain dict: "" is a value, not an absent one
        query.is_valid(raise_exception=True)
        self.requested = query.validated_data
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        return self.requested.get("limit", self.default_limit)

    def get_offset(self, request):
        return self.requested.get("offset", 0)

    def get_paginated_response(self, data):
        return Response(
            {
                "has_previous": self.offset > 0,
                "has_next": self.offset + self.limit < self.count,
                "count": self.count,
                "offset": self.offset,
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view):
        """Document limit and offset with the bounds PageQuery enforces."""
        return [
            {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "integer", "minimum": field.min_value, "maximum": field.max_value},
            }
            for (name, field), description in zip(
                PageQuery().fields.items(),
                [f"Results per page (default {api_settings.PAGE_SIZE}).", "How many results to skip."],
                strict=True,
            )
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["has_previous", "has_next", "count", "offset", "results"],
            "properties": {
                "has_previous": {"type": "boolean"},
                "has_next": {"type": "boolean"},
                "count": {"type": "integer", "example": 123},
                "offset": {"type": "integer", "example": 0},
                "results": schema,
            },
        }
