"""The rates API: average freight prices per day between ports or regions."""
