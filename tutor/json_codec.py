import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer on orjson (several times faster); what orjson does not know, DRF's encoder does."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


class FastJSONParser(JSONParser):
    """DRF's JSON parser on orjson: strict JSON (no NaN or Infinity), several times faster on event batches."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
