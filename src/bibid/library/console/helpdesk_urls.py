"""URLs of the helpdesk in the staff console (under /console/helpdesk/)."""

from django.urls import path

from . import views_charts

app_name = "helpdesk"
urlpatterns = [
    path("schema/", views_charts.chart_list, name="charts"),
    path("schema/<slug:definition_id>.svg", views_charts.chart_svg, name="chart_svg"),
    path("schema/<slug:definition_id>/", views_charts.chart, name="chart"),
    path("rapport/", views_charts.report_page, name="report"),
]
