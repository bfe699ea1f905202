"""CRM Workbook: customer analytics for retail and e-commerce (see CONTRIBUTING.md for the layers)."""

__all__: list[str] = []
