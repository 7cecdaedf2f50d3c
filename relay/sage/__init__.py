"""Sage 100 Contractor behind one port (relay/sage/port.py)."""
