import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer on orjson (several times faster); what orjson does not know, DRF's encoder does."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
