"""The dashboard's main script (`streamlit run` this file): settings, the warehouse check, the
sidebar's filters and the pages. `spotify-elt dashboard` serves it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ingestion.config import load_settings
from ingestion.errors import ConfigError
from spotify_elt.dashboard import ui
from spotify_elt.dashboard.connection import WarehouseUnavailableError

VIEWS = Path(__file__).with_name("views")
# No page icons: Streamlit fetches Material icons from Google's font servers, and nothing may
# leave the machine.
PAGES = [
    st.Page(VIEWS / "overview.py", title="Overview", default=True),
    st.Page(VIEWS / "tops.py", title="Tops"),
    st.Page(VIEWS / "time_patterns.py", title="Time patterns"),
    st.Page(VIEWS / "sessions.py", title="Sessions & streaks"),
    st.Page(VIEWS / "discoveries.py", title="Discoveries"),
    st.Page(VIEWS / "recap.py", title="Recap"),
]

st.set_page_config(page_title="spotify-elt", layout="wide")


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as error:
        st.error(str(error))
        return
    with ui.page_run(settings):
        # Every run registers the pages, so that a page's URL keeps working whatever happens.
        page = st.navigation(PAGES)
        problem = ui.warehouse_problem(settings)
        if problem is not None:
            st.title(page.title)
            st.info(problem)
            return
        try:
            ui.choose_filters(ui.listeners())
            page.run()
        except WarehouseUnavailableError as error:
            st.warning(str(error))


main()
