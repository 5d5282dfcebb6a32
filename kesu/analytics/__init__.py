"""Analysis: KPIs, rollups, business volumes, dashboards."""
