"""Vigil: the information system of a National Preventive Mechanism under OPCAT."""
