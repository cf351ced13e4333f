"""What stored text may hold, as JSON Schema patterns the OpenAPI document and the content checks share.

PostgreSQL cannot hold NUL, and text that must not be blank needs a character that is not white
space as Python counts it (DRF trims with str.strip()). The classes are spelt out so that every
regex engine reads them alike (JSON Schema's `\\s` differs between engines).
"""

_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
VISIBLE_TEXT = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
