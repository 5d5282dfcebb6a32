"""Imports every domain's tables so the metadata (and Alembic) sees them all."""

from kesu.accounts import models as accounts_models
from kesu.complaints import models as complaints_models
from kesu.db import Base
from kesu.taxonomy import models as taxonomy_models

metadata = Base.metadata

__all__ = ["accounts_models", "complaints_models", "metadata", "taxonomy_models"]
