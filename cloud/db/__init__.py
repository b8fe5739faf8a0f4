"""Cloud storage: typed models, engine/session helpers and migrations."""

from cloud.db.alarms import Alarm, AlarmAction, AlarmEvent, AlarmLinkage
from cloud.db.auth import ApiToken, StaffSession, StaffUser
from cloud.db.billing import Bill, BillLine, BillRun, FeeItem
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.db.maintenance import AssetRecord, MaintenancePlan, MaintenanceVisit
from cloud.db.models import (
    Base,
    Device,
    Event,
    Meter,
    Reading,
    SeqGap,
    Site,
    TelemetryCursor,
)
from cloud.db.parking import (
    PARKING_DATASET,
    Blacklist,
    Charge,
    DatasetVersion,
    LotTariff,
    MonthlyPass,
    ParkingSession,
    ParkingSpace,
    ParkingVehicle,
    VisitorPass,
)
from cloud.db.payments import (
    Notification,
    Payment,
    PaymentAllocation,
    PrepaidEntry,
    Receipt,
    ReceiptCounter,
)
from cloud.db.records import (
    AuditEntry,
    BillingMeter,
    Building,
    Company,
    Resident,
    SiteCompany,
    Unit,
)
from cloud.db.rules import RuleSetVersion
from cloud.db.workorder_photos import WorkOrderPhoto
from cloud.db.workorders import (
    Technician,
    TechnicianShift,
    WorkOrder,
    WorkOrderAction,
    WorkOrderLine,
)

__all__ = [
    "PARKING_DATASET",
    "Alarm",
    "AlarmAction",
    "AlarmEvent",
    "AlarmLinkage",
    "ApiToken",
    "AssetRecord",
    "AuditEntry",
    "Base",
    "Bill",
    "BillLine",
    "BillRun",
    "BillingMeter",
    "Blacklist",
    "Building",
    "Charge",
    "Company",
    "DatasetVersion",
    "Device",
    "Event",
    "FeeItem",
    "LotTariff",
    "MaintenancePlan",
    "MaintenanceVisit",
    "Meter",
    "MonthlyPass",
    "Notification",
    "ParkingSession",
    "ParkingSpace",
    "ParkingVehicle",
    "Payment",
    "PaymentAllocation",
    "PrepaidEntry",
    "Reading",
    "Receipt",
    "ReceiptCounter",
    "Resident",
    "RuleSetVersion",
    "SeqGap",
    "Site",
    "SiteCompany",
    "StaffSession",
    "StaffUser",
    "Technician",
    "TechnicianShift",
    "TelemetryCursor",
    "Unit",
    "VisitorPass",
    "WorkOrder",
    "WorkOrderAction",
    "WorkOrderLine",
    "WorkOrderPhoto",
    "make_engine",
    "migrate",
    "session_factory",
]
