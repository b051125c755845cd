"""Capacity planning for autoscaled services: the seed's replica formula and a simulation of the autoscaler
under a load curve, with the 503 rate it produces and the setting that removes it."""
