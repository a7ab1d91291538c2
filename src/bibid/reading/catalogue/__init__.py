"""The Online Bibliotheek's catalogue: e-books and audiobooks, their pages and covers."""
