"""Processes and operations: deployments, definitions, instances, incidents, the development clock."""
