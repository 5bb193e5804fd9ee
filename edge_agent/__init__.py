"""OpenControl edge agent: reads instruments and publishes samples to the hub over MQTT."""

__version__ = "0.1.0"
