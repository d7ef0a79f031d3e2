"""The big screen and the analyses leaders read: computed from indexed documents, cached in Redis."""
