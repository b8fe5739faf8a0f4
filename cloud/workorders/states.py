"""The work-order lifecycle as data: the code (``service.act``), the API and
``docs/workorders.md`` all read ``LIFECYCLE``, so they cannot disagree.

Flow: ``pool`` (nobody yet) → ``assigned`` (dispatched, not yet acknowledged) → ``accepted``
(a technician answered: the response SLA is met) → ``in_progress`` ⇄ ``paused`` (waiting
for parts or access) → ``completed`` (the technician says it is fixed) → ``closed`` (the
requester or supervisor agrees; rating and return visit follow). ``completed`` is kept
apart from ``closed`` because the fix is verified by someone other than who did it, and a
repeat of the fault while awaiting that verification folds into the same order.
"""

from __future__ import annotations

from cloud.lifecycle import Lifecycle, Refusal, Transition

PRIORITIES = ("urgent", "high", "normal", "low")
ROLES = ("system", "supervisor", "technician", "requester")
#: Which of the roles above a console login acts in, by its staff role (``cloud.auth.roles``).
#: The role of an action is the logged-in principal's, never a field of the request: an
#: operations lead dispatches and verifies, a technician does the work, customer service
#: speaks for the resident who asked (cancel, close, reopen, rate). Administrators hold all
#: three. A staff role not listed acts in none, so it can file requests but not move them.
STAFF_ACTS_AS: dict[str, tuple[str, ...]] = {
    "admin": ("supervisor", "technician", "requester"),
    "operations_lead": ("supervisor",),
    "technician": ("technician",),
    "customer_service": ("requester",),
}

#: Everything not listed is refused with the current state and the actions allowed from it.
LIFECYCLE = Lifecycle({
    "pool": "待派单", "assigned": "已派单", "accepted": "已接单", "in_progress": "处理中",
    "paused": "已暂停", "completed": "已完工", "closed": "已关闭", "cancelled": "已取消",
}, (
    Transition("assign", "派单", ("pool",), "assigned", ("system", "supervisor")),
    Transition("grab", "抢单", ("pool",), "accepted", ("technician",)),
    Transition("transfer", "转派", ("assigned", "accepted", "paused"), "assigned",
               ("supervisor", "technician")),
    Transition("accept", "接单", ("assigned",), "accepted", ("technician",)),
    Transition("start", "开始处理", ("accepted",), "in_progress", ("technician",)),
    Transition("pause", "暂停", ("in_progress",), "paused", ("technician",), True),
    Transition("resume", "继续处理", ("paused",), "in_progress", ("technician",)),
    Transition("log_work", "登记工时与备件",
               ("accepted", "in_progress", "paused", "completed"), None,
               ("technician", "supervisor")),
    Transition("complete", "完工", ("in_progress",), "completed", ("technician",)),
    Transition("close", "关闭", ("completed",), "closed", ("supervisor", "requester")),
    Transition("rate", "评价", ("closed",), None, ("requester",)),
    Transition("return_visit", "回访", ("closed",), None, ("supervisor",), True),
    Transition("reopen", "重新打开", ("completed", "closed"), "assigned",
               ("supervisor", "requester"), True),
    Transition("cancel", "取消", ("pool", "assigned", "accepted", "paused"), "cancelled",
               ("supervisor", "requester"), True),
), Refusal("工单当前状态为“{state_zh}”，不能{action_zh}；可执行：{allowed_zh}",
           "cannot {action} a work order that is {state}; allowed: {allowed_en}"))

STATES = LIFECYCLE.states
STATE_ZH = LIFECYCLE.state_zh
TRANSITIONS = LIFECYCLE.transitions
allowed_from = LIFECYCLE.allowed_from
table_markdown = LIFECYCLE.markdown
#: States in which a repeat of the same fault folds into the order (one per site + fold key).
OPEN_STATES = ("pool", "assigned", "accepted", "in_progress", "paused", "completed")
FINAL_STATES = ("closed", "cancelled")

