"""The capture environment's apps: app_a (public) and app_b (token auth), with request capture."""
