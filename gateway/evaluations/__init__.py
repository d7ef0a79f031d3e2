"""Service evaluations: investors score the county and the departments; leaders read the averages."""
