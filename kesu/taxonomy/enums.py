from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    minor = "minor"
    moderate = "moderate"
    serious = "serious"
    critical = "critical"


SEVERITY_LABELS = {
    Severity.minor: "一般",
    Severity.moderate: "较重",
    Severity.serious: "严重",
    Severity.critical: "重大",
}
SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}

# Priority 1 is the most urgent.
PRIORITIES = (1, 2, 3, 4)
PRIORITY_LABELS = {1: "紧急", 2: "高", 3: "中", 4: "低"}
