"""The dashboard (`spotify-elt dashboard`): Streamlit pages over the marts, read-only."""
