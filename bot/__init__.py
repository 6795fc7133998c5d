"""fmccert: keep Cisco FMC Talos client certificates (CSCwo63951) from expiring unseen."""

__version__ = "0.1.0"
