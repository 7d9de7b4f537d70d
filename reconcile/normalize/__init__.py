"""Normalisers: pure functions from raw cell text to canonical values (DESIGN §3, §9).

Each returns the cleaned value and, when the raw value was bad or had to be altered, a problem code
whose Chinese message is in ``PROBLEMS``.
"""

from .codes import CODE_LISTS, CodeList, code_labels, codes_compatible, normalize_code, normalize_code_list
from .dates import parse_date, parse_year, parse_yearmonth
from .ids import PROVINCE_CODES, IdInfo, id_check_char, is_valid_id, normalize_id
from .names import name_problem, normalize_name
from .numbers import parse_bool, parse_int, parse_money, parse_number, parse_phone
from .problems import INFORMATIONAL, PROBLEMS, problem_message
from .regions import normalize_township, normalize_village, village_key
from .result import Normalized
from .values import normalize_value, value_kinds
from .vector import map_unique

__all__ = [
    "CODE_LISTS",
    "INFORMATIONAL",
    "PROBLEMS",
    "PROVINCE_CODES",
    "CodeList",
    "IdInfo",
    "Normalized",
    "code_labels",
    "codes_compatible",
    "id_check_char",
    "is_valid_id",
    "map_unique",
    "name_problem",
    "normalize_code",
    "normalize_code_list",
    "normalize_id",
    "normalize_name",
    "normalize_township",
    "normalize_value",
    "normalize_village",
    "parse_bool",
    "parse_date",
    "parse_int",
    "parse_money",
    "parse_number",
    "parse_phone",
    "parse_year",
    "parse_yearmonth",
    "problem_message",
    "value_kinds",
    "village_key",
]
