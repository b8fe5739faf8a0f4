"""Cloud storage: typed models, engine/session helpers and migrations."""

from cloud.db.alarms import Alarm, AlarmAction, AlarmEvent, AlarmLinkage
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
    "AssetRecord",
    "Base",
    "Blacklist",
    "Charge",
    "DatasetVersion",
    "Device",
    "Event",
    "LotTariff",
    "MaintenancePlan",
    "MaintenanceVisit",
    "Meter",
    "MonthlyPass",
    "ParkingSession",
    "ParkingSpace",
    "ParkingVehicle",
    "Reading",
    "RuleSetVersion",
    "SeqGap",
    "Site",
    "Technician",
    "TechnicianShift",
    "TelemetryCursor",
    "VisitorPass",
    "WorkOrder",
    "WorkOrderAction",
    "WorkOrderLine",
    "WorkOrderPhoto",
    "make_engine",
    "migrate",
    "session_factory",
]
