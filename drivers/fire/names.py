"""Names of the GB/T 26875.3-2011 codes a guard reads: zh-CN first, English second.

Tables: system types (8.2.1.1), component types (8.2.1.2), analog types with their resolution
(8.2.1.3), the status bits of facility systems, components and the UITD, and the operation
flags. A code missing from a table gets a name that still says which code it was.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Name(NamedTuple):
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


SYSTEM_TYPES: dict[int, Name] = {
    0: Name("通用", "general"),
    1: Name("火灾报警系统", "fire alarm system"),
    10: Name("消防联动控制器", "fire linkage controller"),
    11: Name("消火栓系统", "fire hydrant system"),
    12: Name("自动喷水灭火系统", "automatic sprinkler system"),
    13: Name("气体灭火系统", "gas extinguishing system"),
    14: Name("水喷雾灭火系统（泵启动方式）", "water spray system (pump start)"),
    15: Name("水喷雾灭火系统（压力容器启动方式）", "water spray system (pressure vessel start)"),
    16: Name("泡沫灭火系统", "foam extinguishing system"),
    17: Name("干粉灭火系统", "dry powder extinguishing system"),
    18: Name("防烟排烟系统", "smoke control and exhaust system"),
    19: Name("防火门及卷帘系统", "fire doors and shutters"),
    20: Name("消防电梯", "fire elevator"),
    21: Name("消防应急广播", "emergency broadcast"),
    22: Name("消防应急照明和疏散指示系统", "emergency lighting and evacuation signs"),
    23: Name("消防电源", "fire power supply"),
    24: Name("消防电话", "fire telephone"),
}

COMPONENT_TYPES: dict[int, Name] = {
    0: Name("通用", "general"),
    1: Name("火灾报警控制器", "fire alarm controller"),
    10: Name("可燃气体探测器", "combustible gas detector"),
    11: Name("点型可燃气体探测器", "point combustible gas detector"),
    12: Name("独立式可燃气体探测器", "stand-alone combustible gas detector"),
    13: Name("线型可燃气体探测器", "line combustible gas detector"),
    16: Name("电气火灾监控报警器", "electrical fire monitoring alarm"),
    17: Name("剩余电流式电气火灾监控探测器", "residual current electrical fire detector"),
    18: Name("测温式电气火灾监控探测器", "temperature electrical fire detector"),
    21: Name("探测回路", "detection loop"),
    22: Name("火灾显示盘", "fire display panel"),
    23: Name("手动火灾报警按钮", "manual call point"),
    24: Name("消火栓按钮", "hydrant button"),
    25: Name("火灾探测器", "fire detector"),
    30: Name("感温火灾探测器", "heat detector"),
    31: Name("点型感温火灾探测器", "point heat detector"),
    32: Name("点型感温火灾探测器（S型）", "point heat detector (S)"),
    33: Name("点型感温火灾探测器（R型）", "point heat detector (R)"),
    34: Name("线型感温火灾探测器", "line heat detector"),
    35: Name("线型感温火灾探测器（S型）", "line heat detector (S)"),
    36: Name("线型感温火灾探测器（R型）", "line heat detector (R)"),
    37: Name("光纤感温火灾探测器", "fibre-optic heat detector"),
    40: Name("感烟火灾探测器", "smoke detector"),
    41: Name("点型离子感烟火灾探测器", "point ionisation smoke detector"),
    42: Name("点型光电感烟火灾探测器", "point photoelectric smoke detector"),
    43: Name("线型光束感烟火灾探测器", "beam smoke detector"),
    44: Name("吸气式感烟火灾探测器", "aspirating smoke detector"),
    50: Name("复合式火灾探测器", "multi-sensor fire detector"),
    51: Name("复合式感烟感温火灾探测器", "smoke and heat detector"),
    52: Name("复合式感光感温火灾探测器", "flame and heat detector"),
    53: Name("复合式感光感烟火灾探测器", "flame and smoke detector"),
    61: Name("紫外火焰探测器", "ultraviolet flame detector"),
    62: Name("红外火焰探测器", "infrared flame detector"),
    69: Name("感光火灾探测器", "flame detector"),
    74: Name("气体探测器", "gas detector"),
    78: Name("图像摄像方式火灾探测器", "video fire detector"),
    79: Name("感声火灾探测器", "acoustic fire detector"),
    81: Name("气体灭火控制器", "gas extinguishing controller"),
    82: Name("消防电气控制装置", "fire electrical control unit"),
    83: Name("消防控制室图形显示装置", "control room graphic display"),
    84: Name("模块", "module"),
    85: Name("输入模块", "input module"),
    86: Name("输出模块", "output module"),
    87: Name("输入/输出模块", "input/output module"),
    88: Name("中继模块", "repeater module"),
    91: Name("消防水泵", "fire pump"),
    92: Name("消防水箱", "fire water tank"),
    95: Name("喷淋泵", "sprinkler pump"),
    96: Name("水流指示器", "flow indicator"),
    97: Name("信号阀", "signal valve"),
    98: Name("报警阀", "alarm valve"),
    99: Name("压力开关", "pressure switch"),
    101: Name("阀驱动装置", "valve actuator"),
    102: Name("防火门", "fire door"),
    103: Name("防火阀", "fire damper"),
    104: Name("通风空调", "ventilation and air conditioning"),
    105: Name("泡沫液泵", "foam pump"),
    106: Name("管网电磁阀", "pipe network solenoid valve"),
    111: Name("防烟排烟风机", "smoke fan"),
    113: Name("排烟防火阀", "smoke exhaust fire damper"),
    114: Name("常闭送风口", "normally closed air inlet"),
    115: Name("排烟口", "smoke vent"),
    116: Name("电控挡烟垂壁", "electric smoke curtain"),
    117: Name("防火卷帘控制器", "fire shutter controller"),
    118: Name("防火门监控器", "fire door monitor"),
    121: Name("报警装置", "alarm device"),
}


class AnalogType(NamedTuple):
    name: Name
    unit: str
    resolution: Decimal


ANALOG_TYPES: dict[int, AnalogType] = {
    1: AnalogType(Name("事件计数", "event count"), "件", Decimal(1)),
    2: AnalogType(Name("高度", "height"), "m", Decimal("0.01")),
    3: AnalogType(Name("温度", "temperature"), "℃", Decimal("0.1")),
    4: AnalogType(Name("压力", "pressure"), "MPa", Decimal("0.1")),
    5: AnalogType(Name("压力", "pressure"), "kPa", Decimal("0.1")),
    6: AnalogType(Name("气体浓度", "gas concentration"), "%LEL", Decimal("0.1")),
    7: AnalogType(Name("时间", "time"), "s", Decimal(1)),
    8: AnalogType(Name("电压", "voltage"), "V", Decimal("0.1")),
    9: AnalogType(Name("电流", "current"), "A", Decimal("0.1")),
    10: AnalogType(Name("流量", "flow"), "L/s", Decimal("0.1")),
    11: AnalogType(Name("风量", "air volume"), "m³/min", Decimal("0.1")),
    12: AnalogType(Name("风速", "wind speed"), "m/s", Decimal(1)),
}


class Flag(NamedTuple):
    key: str
    name: Name


#: Status bits of a component (type 2). Bit 0 is the mode (1 normal, 0 test), not a state.
COMPONENT_STATES: dict[int, Flag] = {
    1: Flag("fire", Name("火警", "fire alarm")),
    2: Flag("fault", Name("故障", "fault")),
    3: Flag("shielded", Name("屏蔽", "shielded")),
    4: Flag("supervisory", Name("监管", "supervisory")),
    5: Flag("started", Name("启动", "started")),
    6: Flag("feedback", Name("反馈", "feedback")),
    7: Flag("delay", Name("延时", "delay")),
    8: Flag("power_fault", Name("电源故障", "power fault")),
}

#: Status bits of a facility system (type 1): the component bits, bit 8 main power, and more.
SYSTEM_STATES: dict[int, Flag] = {
    **{bit: flag for bit, flag in COMPONENT_STATES.items() if bit < 8},
    8: Flag("main_power_fault", Name("主电故障", "main power fault")),
    9: Flag("backup_power_fault", Name("备电故障", "backup power fault")),
    10: Flag("bus_fault", Name("总线故障", "bus fault")),
    11: Flag("manual", Name("手动状态", "manual mode")),
    12: Flag("config_changed", Name("配置改变", "configuration changed")),
    13: Flag("reset", Name("复位", "reset")),
}

#: Status bits of the UITD itself (type 21, one byte).
UITD_STATES: dict[int, Flag] = {
    1: Flag("fire", Name("火警", "fire alarm")),
    2: Flag("fault", Name("故障", "fault")),
    3: Flag("main_power_fault", Name("主电故障", "main power fault")),
    4: Flag("backup_power_fault", Name("备电故障", "backup power fault")),
    5: Flag("centre_link_fault",
            Name("与监控中心通信信道故障", "link to monitoring centre failed")),
    6: Flag("line_fault", Name("监测连接线路故障", "monitored line fault")),
}

#: Operation flags of a facility (type 4).
OPERATIONS: dict[int, Flag] = {
    0: Flag("reset", Name("复位", "reset")),
    1: Flag("silence", Name("消音", "silence")),
    2: Flag("manual_alarm", Name("手动报警", "manual alarm")),
    3: Flag("alarm_cleared", Name("警情消除", "alarm cleared")),
    4: Flag("self_test", Name("自检", "self-test")),
    5: Flag("acknowledge", Name("确认", "acknowledge")),
    6: Flag("test", Name("测试", "test")),
}

#: Operation flags of the UITD (type 24): as type 4, but bit 5 is the duty check answer.
UITD_OPERATIONS: dict[int, Flag] = {
    **OPERATIONS,
    5: Flag("duty_check_answered", Name("查岗应答", "duty check answered")),
}

#: Every state key → its name, for messages.
STATE_NAMES: dict[str, Name] = {
    flag.key: flag.name
    for table in (COMPONENT_STATES, SYSTEM_STATES, UITD_STATES)
    for flag in table.values()
}


def system_type_name(code: int) -> Name:
    return SYSTEM_TYPES.get(code) or Name(f"系统类型{code}", f"system type {code}")


def component_type_name(code: int) -> Name:
    return COMPONENT_TYPES.get(code) or Name(f"部件类型{code}", f"component type {code}")


def analog_type(code: int) -> AnalogType:
    return ANALOG_TYPES.get(code) or AnalogType(
        Name(f"模拟量类型{code}", f"analog type {code}"), "", Decimal(1))


def set_flags(value: int, table: dict[int, Flag], bits: range) -> list[str]:
    """Keys of the set bits in ``bits``, in bit order; an unnamed set bit is ``bitN``."""
    return [table[bit].key if bit in table else f"bit{bit}"
            for bit in bits if value >> bit & 1]


def state_name(key: str) -> Name:
    return STATE_NAMES.get(key) or Name(key, key)
