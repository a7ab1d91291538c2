"""URLs of the helpdesk's charts and report in the staff console (under /console/helpdesk/).
Their own namespace, "helpdesk" (helpdesk:chart, helpdesk:report...), as before they moved
here from the helpdesk app."""

from django.urls import path

from . import helpdesk_charts

app_name = "helpdesk"
urlpatterns = [
    path("schema/", helpdesk_charts.chart_list, name="charts"),
    path("schema/<slug:definition_id>.svg", helpdesk_charts.chart_svg, name="chart_svg"),
    path("schema/<slug:definition_id>/", helpdesk_charts.chart, name="chart"),
    path("rapport/", helpdesk_charts.report_page, name="report"),
]
