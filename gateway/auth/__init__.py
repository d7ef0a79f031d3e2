"""Who is calling: OAuth2 password flow, signed bearer tokens, roles, login throttling."""
