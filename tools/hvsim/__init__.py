"""hvsim: a simulated Hyper-V failover cluster behind real WinRM endpoints (see docs/hvsim.md)."""
