"""The store's repositories, one per aggregate, written once against ``shared.documents.driver``."""
