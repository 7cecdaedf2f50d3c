"""The on-premises relay agent: applies the cloud's commands to Sage 100 Contractor."""
