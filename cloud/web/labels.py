"""One label table: every stored code a page may show, in zh-CN and English.

Codes are what the database and the API keep (``residential``, ``bank_transfer``,
``gate_fault``); staff read the label. Pages get this table as ``/ui/labels.js`` and show
every code through it (``Shell.label(table, code)``), so a code never reaches the screen and a
new code is named here once. The feature tables that define the codes are checked against this
one by ``tests/cloud/test_labels.py``.
"""

from __future__ import annotations

import json
from typing import Final

from cloud.web.labels_events import EVENT_KIND_LABELS

Label = tuple[str, str]  # (zh-CN, English)

LABELS: Final[dict[str, dict[str, Label]]] = {
    "unit_type": {
        "residential": ("住宅", "Residential"),
        "commercial": ("商铺", "Shop"),
        "office": ("办公", "Office"),
        "storage": ("储藏室", "Storage room"),
        "parking": ("车位", "Parking space"),
    },
    "unit_status": {
        "unsold": ("未售", "Unsold"),
        "occupied": ("自住", "Owner-occupied"),
        "rented": ("出租", "Rented"),
        "vacant": ("空置", "Vacant"),
    },
    "resident_role": {
        "owner": ("业主", "Owner"),
        "tenant": ("租户", "Tenant"),
        "staff": ("员工", "Staff"),
    },
    "utility": {
        "electricity": ("电", "Electricity"),
        "water": ("水", "Water"),
        "gas": ("燃气", "Gas"),
    },
    "search_match": {
        "unit": ("房号", "Unit"),
        "name": ("姓名", "Name"),
        "phone": ("电话", "Phone"),
        "plate": ("车牌", "Plate"),
    },
    "record_action": {
        "create": ("新建", "Created"),
        "update": ("修改", "Changed"),
        "delete": ("删除", "Deleted"),
        "replace": ("换表", "Replaced"),
        "assign_site": ("分配小区", "Site assigned"),
        "unassign_site": ("取消小区", "Site unassigned"),
        "view": ("查看", "Viewed"),
    },
    "meter_scope": {
        "unit": ("分户表", "Unit meter"),
        "shared": ("公摊表", "Shared meter"),
    },
    "space_kind": {
        "owned": ("产权车位", "Owned space"),
        "rented": ("租赁车位", "Rented space"),
        "public": ("公共车位", "Public space"),
    },
    "fee_kind": {
        "area": ("按面积", "By floor area"),
        "fixed": ("固定金额", "Fixed amount"),
        "metered": ("按用量", "Metered"),
        "shared": ("公摊分摊", "Shared apportionment"),
        "parking_pass": ("月卡停车", "Parking pass"),
        "parking_temp": ("临时停车", "Visitor parking"),
    },
    "cycle": {
        "monthly": ("按月", "Monthly"),
        "quarterly": ("按季", "Quarterly"),
        "yearly": ("按年", "Yearly"),
    },
    "bill_state": {
        "held": ("待复核", "Held for review"),
        "open": ("未缴", "Unpaid"),
        "partial": ("部分缴纳", "Part paid"),
        "paid": ("已缴清", "Paid"),
        "void": ("已作废", "Void"),
    },
    "bill_line_kind": {
        "charge": ("费用", "Charge"),
        "discount": ("优惠", "Discount"),
        "late_fee": ("滞纳金", "Late fee"),
        "adjustment": ("调整", "Adjustment"),
    },
    "share_basis": {
        "area": ("按面积分摊", "By floor area"),
        "usage": ("按用量分摊", "By usage"),
    },
    "tariff_rounding": {
        "fen": ("到分", "To the fen"),
        "jiao": ("到角", "To the jiao"),
        "yuan": ("到元", "To the yuan"),
    },
    "cap_window": {
        "entry_24h": ("入场起每 24 小时", "Every 24 h from entry"),
        "calendar_day": ("每个自然日", "Each calendar day"),
    },
    "lost_entry": {
        "flat": ("按固定金额", "A flat fee"),
        "daily_cap": ("按一天封顶金额", "One daily cap"),
    },
    "night_mode": {
        "per_unit": ("按时段计费", "Per time unit"),
        "flat": ("每晚固定金额", "Flat per night"),
    },
    "run_state": {
        "running": ("出账中", "Running"),
        "done": ("已完成", "Done"),
        "failed": ("失败", "Failed"),
    },
    "payment_method": {
        "cash": ("现金", "Cash"),
        "card": ("银行卡", "Card"),
        "wechat": ("微信支付", "WeChat Pay"),
        "alipay": ("支付宝", "Alipay"),
        "bank_transfer": ("银行转账", "Bank transfer"),
        "prepaid": ("预存款抵扣", "From prepaid"),
    },
    "payment_kind": {
        "payment": ("收款", "Payment"),
        "reversal": ("红冲", "Reversal"),
    },
    "workorder_state": {
        "pool": ("待派单", "Unassigned"),
        "assigned": ("已派单", "Assigned"),
        "accepted": ("已接单", "Accepted"),
        "in_progress": ("处理中", "In progress"),
        "paused": ("已暂停", "Paused"),
        "completed": ("已完工", "Completed"),
        "closed": ("已关闭", "Closed"),
        "cancelled": ("已取消", "Cancelled"),
    },
    "workorder_action": {
        "opened": ("新建", "Opened"),
        "assign": ("派单", "Assign"),
        "grab": ("抢单", "Grab"),
        "transfer": ("转派", "Transfer"),
        "accept": ("接单", "Accept"),
        "start": ("开始处理", "Start"),
        "pause": ("暂停", "Pause"),
        "resume": ("继续处理", "Resume"),
        "log_work": ("登记工时与备件", "Log work"),
        "complete": ("完工", "Complete"),
        "close": ("关闭", "Close"),
        "rate": ("评价", "Rate"),
        "return_visit": ("回访", "Return visit"),
        "reopen": ("重新打开", "Reopen"),
        "cancel": ("取消", "Cancel"),
        "escalated": ("超时上报", "Escalated"),
        "rating_requested": ("邀请评价", "Rating requested"),
    },
    "priority": {
        "urgent": ("紧急", "Urgent"),
        "high": ("高", "High"),
        "normal": ("普通", "Normal"),
        "low": ("低", "Low"),
    },
    "category": {
        "elevator_rescue": ("电梯困人救援", "Elevator rescue"),
        "elevator_fault": ("电梯故障", "Elevator fault"),
        "fire_fault": ("消防设备故障", "Fire equipment fault"),
        "gate_fault": ("门禁道闸故障", "Gate or door fault"),
        "access": ("门禁故障", "Access control fault"),
        "camera": ("监控故障", "Camera fault"),
        "meter": ("表计异常", "Meter problem"),
        "network": ("设备离线", "Device offline"),
        "plumbing": ("水暖", "Plumbing"),
        "electrical": ("电气", "Electrical"),
        "public_area": ("公共区域", "Public area"),
        "other": ("其他", "Other"),
        "complaint": ("投诉", "Complaint"),
    },
    "skill": {
        "elevator": ("电梯", "Elevators"),
        "fire": ("消防", "Fire systems"),
        "access": ("门禁道闸", "Gates and doors"),
        "cctv": ("监控", "CCTV"),
        "meter": ("表计", "Meters"),
        "network": ("网络", "Network"),
        "plumbing": ("水暖", "Plumbing"),
        "electrical": ("电气", "Electrical"),
        "general": ("综合维修", "General repairs"),
    },
    "alarm_state": {
        "open": ("未处理", "Open"),
        "acknowledged": ("已确认", "Acknowledged"),
        "in_progress": ("处理中", "In progress"),
        "resolved": ("已解除", "Resolved"),
        "false_alarm": ("误报", "False alarm"),
    },
    "severity": {
        "critical": ("紧急", "Critical"),
        "major": ("重要", "Major"),
        "minor": ("一般", "Minor"),
        "info": ("提示", "Info"),
    },
    "linkage_result": {
        "ok": ("已执行", "Done"),
        "failed": ("执行失败", "Failed"),
        "noop": ("无需动作", "Nothing to do"),
        "refused": ("被拒绝", "Refused"),
    },
    "linkage_action": {
        "raise_gate": ("道闸常开", "Barrier held open"),
        "unlock_doors": ("疏散门解锁", "Egress doors unlocked"),
        "recall_elevator": ("电梯迫降", "Elevator recalled"),
        "alarm": ("紧急告警", "Critical alarm"),
        "release_gate": ("解除道闸常开", "Barrier hold released"),
        "restore_doors": ("恢复门禁", "Doors restored"),
    },
    "command_state": {
        "queued": ("排队中", "Queued"),
        "sent": ("已下发", "Sent"),
        "done": ("已执行", "Done"),
        "refused": ("被拒绝", "Refused"),
        "expired": ("已过期", "Expired"),
        "failed": ("执行失败", "Failed"),
    },
    "command_kind": {
        "gate.open": ("开闸", "Open barrier"),
        "gate.close": ("落闸", "Close barrier"),
        "door.open": ("开门", "Open door"),
        "door.mode": ("设置门常开/常闭", "Set door mode"),
        "linkage.reset": ("复位联动", "Reset linkage"),
        "elevator.recall": ("电梯迫降", "Recall elevator"),
        "dataset.resync": ("重新同步数据", "Resync dataset"),
        "device.reconnect": ("重连设备", "Reconnect device"),
        "patrol.scan": ("巡更扫码打卡", "Patrol QR scan"),
    },
    # The 门禁 pages (cloud/access/log.py; reasons from edge/access/decide.py REASONS and the
    # UHPPOTE controllers' denials in drivers/access/uhppote_events.py).
    "access_result": {
        "granted": ("放行", "Granted"),
        "denied": ("拒绝", "Denied"),
    },
    "access_reason": {
        "bad_parity": ("卡数据校验错误", "Card data parity error"),
        "bad_length": ("卡数据长度错误", "Card data length error"),
        "unsupported_format": ("不支持的卡格式", "Card format not supported"),
        "unknown_card": ("未登记的卡", "Card not enrolled"),
        "unknown_pin": ("密码错误", "Wrong PIN"),
        "blocked": ("卡或持卡人已被禁用", "Card or holder blocked"),
        "not_yet_valid": ("尚未生效", "Not yet valid"),
        "expired": ("已过期", "Expired"),
        "no_permission": ("无此门权限", "No permission for this door"),
        "outside_schedule": ("不在允许的时段", "Outside its time profile"),
        "anti_passback": ("反潜回：进出记录不符", "Anti-passback"),
        "unknown_reader": ("读卡器未配置门", "Reader not assigned to a door"),
        "pc_control": ("由上位机控制", "PC control"),
        "no_privilege": ("无权限或不在有效期", "No privilege or outside its dates"),
        "wrong_pin": ("密码错误", "Wrong PIN"),
        "more_cards": ("需多卡开门", "More cards needed"),
        "first_card": ("首卡未开门", "First card not yet presented"),
        "normally_closed": ("门处于常闭", "Door set normally closed"),
        "interlock": ("互锁", "Interlock"),
        "limited_times": ("次数已用完", "Uses spent"),
        "time_profile": ("不在允许时段", "Outside its time profile"),
        "denied": ("卡未登记", "Card not enrolled"),
    },
    "door_state": {
        "opened": ("已打开", "Open"),
        "closed": ("已关闭", "Closed"),
        "forced": ("被强行打开", "Forced open"),
        "held_open": ("长时间未关", "Held open"),
    },
    "credential_state": {
        "active": ("有效", "Active"),
        "revoked": ("已注销", "Revoked"),
        "expired": ("已过期", "Expired"),
    },
    "holder_kind": {
        "resident": ("住户", "Resident"),
        "staff": ("员工", "Staff"),
        "visitor": ("访客", "Visitor"),
    },
    "direction": {
        "in": ("入场", "Entry"),
        "out": ("出场", "Exit"),
    },
    "device_kind": {
        "meter": ("表计", "Meter"),
        "gate": ("道闸", "Barrier gate"),
        "camera": ("车牌相机", "Plate camera"),
        "door": ("门禁", "Door"),
        "elevator": ("电梯", "Elevator"),
        "fire": ("消防", "Fire panel"),
        "reader": ("读卡器", "Card reader"),
    },
    # The device page's groups (cloud/sites/device_family.py).
    "device_family": {
        "meter": ("表计", "Meters"),
        "camera": ("车牌相机", "Plate cameras"),
        "gate": ("道闸", "Barrier gates"),
        "access": ("门禁（门、控制器、读卡器）", "Access (doors, controllers, readers)"),
        "elevator": ("电梯", "Elevators"),
        "fire": ("消防主机", "Fire panels"),
        "other": ("其他设备", "Other devices"),
    },
    "door_mode": {
        "normally_open": ("常开", "Normally open"),
        "normally_closed": ("常闭", "Normally closed"),
        "controlled": ("受控", "Controlled"),
    },
    # 巡更 (cloud/patrol/tables.py: a round's status, a checkpoint's state in a round, how a
    # visit was sensed).
    "patrol_round_status": {
        "scheduled": ("未开始", "Scheduled"),
        "started": ("进行中", "In progress"),
        "completed": ("已完成", "Completed"),
        "incomplete": ("未完成（有漏检）", "Incomplete"),
        "missed": ("漏巡", "Missed"),
    },
    "patrol_checkpoint_state": {
        "pending": ("待巡", "Pending"),
        "on_time": ("准时", "On time"),
        "late": ("迟到", "Late"),
        "missed": ("漏检", "Missed"),
        "out_of_order": ("顺序错误", "Out of order"),
    },
    "patrol_source": {
        "ble": ("蓝牙", "Bluetooth"),
        "qr": ("二维码", "QR code"),
    },
    "dataset": {
        "parking": ("停车数据", "Parking data"),
        "access": ("门禁数据", "Access data"),
        "patrol": ("巡更数据", "Patrol data"),
    },
    # Event kinds (contract/kinds.py), as a device's recent events show them.
    "event_kind": EVENT_KIND_LABELS,
    # Meter profiles name their registers (configs/profiles); the common ones read as words.
    "reading": {
        "voltage": ("电压 V", "Voltage V"),
        "voltage_l1": ("L1 电压 V", "L1 voltage V"),
        "voltage_l2": ("L2 电压 V", "L2 voltage V"),
        "voltage_l3": ("L3 电压 V", "L3 voltage V"),
        "current": ("电流 A", "Current A"),
        "current_l1": ("L1 电流 A", "L1 current A"),
        "current_l2": ("L2 电流 A", "L2 current A"),
        "current_l3": ("L3 电流 A", "L3 current A"),
        "power_w": ("功率 W", "Power W"),
        "power_factor": ("功率因数", "Power factor"),
        "frequency_hz": ("频率 Hz", "Frequency Hz"),
        "energy_import_kwh": ("正向有功电能 kWh", "Energy imported kWh"),
        "energy_export_kwh": ("反向有功电能 kWh", "Energy exported kWh"),
        "energy_kwh": ("电能 kWh", "Energy kWh"),
        "water_m3": ("用水量 m³", "Water m³"),
        "gas_m3": ("用气量 m³", "Gas m³"),
    },
    "role": {
        "admin": ("管理员", "Administrator"),
        "finance": ("财务", "Finance"),
        "customer_service": ("客服", "Customer service"),
        "guard": ("保安", "Guard"),
        "operations_lead": ("运营主管", "Operations lead"),
        "technician": ("维修技师", "Technician"),
        "installer": ("实施工程师", "Installer"),
        "cockpit": ("大屏", "Wall screen"),
    },
    "permission": {
        "devices.read": ("查看设备与事件", "view devices and events"),
        "records.read": ("查看档案", "view the register"),
        "records.write": ("修改档案", "edit the register"),
        "people.read": ("查看住户个人信息", "view residents' personal data"),
        "people.write": ("修改住户个人信息", "edit residents' personal data"),
        "people.export": ("导出住户个人数据", "export a resident's data"),
        "people.erase": ("删除住户个人数据", "erase a resident's data"),
        "plates.read": ("查看完整车牌", "see full licence plates"),
        "faces.read": ("查看人脸数据", "see face data"),
        "imports.run": ("批量导入", "run imports"),
        "billing.read": ("查看账单", "view bills"),
        "billing.write": ("收费与出账", "take payments and run bills"),
        "parking.read": ("查看停车", "view parking"),
        "parking.write": ("修改停车", "edit parking"),
        "alarms.read": ("查看告警", "view alarms"),
        "alarms.act": ("处理告警", "handle alarms"),
        "workorders.read": ("查看工单", "view work orders"),
        "workorders.act": ("处理工单", "work on orders"),
        "workorders.admin": ("工单管理", "manage work orders"),
        "audit.read": ("查看审计日志", "read the audit log"),
        "access.passes": ("访客通行证", "visitor passes"),
        "patrol.read": ("查看巡更", "view patrol"),
        "patrol.write": ("巡更管理", "manage patrol"),
        "patrol.scan": ("扫码巡更", "scan patrol checkpoints"),
        "cockpit.read": ("查看运营驾驶舱", "view the operations cockpit"),
        "retention.admin": ("设置数据保存期限", "set data retention windows"),
        "staff.admin": ("员工账号管理", "manage staff accounts"),
    },
}


def label(table: str, code: str, lang: str = "zh") -> str:
    """The label of ``code``, or the code itself when the table does not know it."""
    pair = LABELS.get(table, {}).get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]


def bilingual(table: str, code: str) -> str:
    """``中文 / English`` for places that show both (an API message, a CSV header)."""
    pair = LABELS.get(table, {}).get(code)
    return code if pair is None else f"{pair[0]} / {pair[1]}"


def labels_script() -> str:
    """``/ui/labels.js``: the table as a global the pages read."""
    doc = {table: {code: list(pair) for code, pair in codes.items()}
           for table, codes in LABELS.items()}
    return ("/* 代码标签表 / the label table, generated from cloud/web/labels.py */\n"
            f"window.CY_LABELS = {json.dumps(doc, ensure_ascii=False, sort_keys=True)};\n")
