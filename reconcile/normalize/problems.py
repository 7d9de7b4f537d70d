"""Problem codes the normalisers report, with the Chinese message shown to data owners.

Every code ends up as an `input_issue` row (DESIGN §3); the message must let a township officer
find and fix the cell without reading any code.
"""

from __future__ import annotations

PROBLEMS: dict[str, str] = {
    # ID numbers (GB 11643-1999, domain.md §6)
    "id_bad_chars": "证件号码含有非法字符(只能是数字和末位X):{value}",
    "id_bad_length": "证件号码位数不对(应为18位,旧证15位):{value}",
    "id_bad_region": "证件号码前两位不是有效的省级行政区划代码:{value}",
    "id_bad_birth_date": "证件号码中的出生日期不存在:{value}",
    "id_check_digit": "证件号码校验位错误:{value}",
    "id_sci_notation": "证件号码被Excel显示为科学计数法,后几位已丢失,无法恢复,请从原始系统重新导出(设置为文本格式):{value}",
    "id_excel_number": "证件号码在Excel中以数值格式保存,第15位以后的数字不可信,请将该列设为文本格式后重新录入或导出:{value}",
    "id_converted_15": "15位旧身份证号码已自动升级为18位:{value}{detail}",
    "id_disability_suffix": "证件号码为20位残疾人证号,已取前18位作为身份证号:{value}{detail}",
    # names
    "name_has_digits": "姓名中含有数字,可能误填了证件号码或编号:{value}",
    "name_has_latin": "姓名中含有英文字母,请核对:{value}",
    # code lists
    "code_unknown": "不是可识别的代码或选项:{value}{detail}",
    # dates
    "date_unparseable": "无法识别的日期或日期不存在:{value}",
    "date_out_of_range": "日期年份超出合理范围(1900—2100年):{value}",
    "date_excel_serial": "日期为Excel序列号,已换算为日期:{value}{detail}",
    "year_unparseable": "无法识别的年度:{value}",
    "year_out_of_range": "年度超出合理范围(1949—2100年):{value}",
    # numbers
    "number_unparseable": "无法识别的数字或金额:{value}",
    "number_bad_grouping": "数字中的逗号或空格不是千位分隔(应每三位一个),可能是几个数字填进了同一格,按缺失处理:{value}",
    "int_not_whole": "应为整数,却填写了小数:{value}",
    "phone_unparseable": "联系电话中有数字和分隔符以外的字符:{value}",
}

# Altered-but-recovered values: reported as input issues, yet the normalised value is usable.
INFORMATIONAL: frozenset[str] = frozenset({"id_converted_15", "id_disability_suffix", "date_excel_serial"})


def problem_message(code: str, value: object, detail: str | None = None) -> str:
    """The Chinese message for a problem code; ``detail`` is appended in brackets when given."""
    template = PROBLEMS[code]
    suffix = f"({detail})" if detail else ""
    return template.format(value=value, detail=suffix)
