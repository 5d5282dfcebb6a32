"""Imports every domain's tables so the metadata (and Alembic) sees them all."""

from kesu.accounts import models as accounts_models
from kesu.analytics import models as analytics_models
from kesu.attachments import models as attachments_models
from kesu.compensation import models as compensation_models
from kesu.complaints import models as complaints_models
from kesu.complaints import repeat_models
from kesu.db import Base
from kesu.exports import models as exports_models
from kesu.incidents import models as incidents_models
from kesu.intake.email import models as email_models
from kesu.intake.social import models as social_models
from kesu.knowledge import models as knowledge_models
from kesu.notify import models as notify_models
from kesu.reports import models as reports_models
from kesu.routing import models as routing_models
from kesu.search import models as search_models
from kesu.sla import models as sla_models
from kesu.surveys import models as surveys_models
from kesu.tasks import models as tasks_models
from kesu.taxonomy import models as taxonomy_models
from kesu.triage import models as triage_models
from kesu.workbench import models as workbench_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "analytics_models",
    "attachments_models",
    "compensation_models",
    "complaints_models",
    "email_models",
    "exports_models",
    "incidents_models",
    "knowledge_models",
    "metadata",
    "notify_models",
    "repeat_models",
    "reports_models",
    "routing_models",
    "search_models",
    "sla_models",
    "social_models",
    "surveys_models",
    "tasks_models",
    "taxonomy_models",
    "triage_models",
    "workbench_models",
]
