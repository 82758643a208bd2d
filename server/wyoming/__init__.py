"""The Wyoming face: Home Assistant's voice protocol over TCP, beside HTTP.

``framing`` reads events with limits, ``info`` writes what the device offers, ``errors``
renders the one classification as ``error`` events, ``handler`` translates one
connection's events into calls of the Wyoming service, and ``server`` runs the listener
(and the zeroconf announcement) in the app's event loop.
"""

from server.wyoming.server import WyomingServer

__all__ = ["WyomingServer"]
