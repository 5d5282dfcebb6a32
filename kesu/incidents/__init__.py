"""Incidents (重大投诉 / 危机事件): opened by hand or by the batch rule."""
