"""The reading service: the Online Bibliotheek, lending e-books and audiobooks."""
