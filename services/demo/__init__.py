"""The demo: deploy the models, seed the demo city (Huai'an), and drive a year through the controlled clock.

    python -m services.demo deploy               # every model of bpmn/ to ZEEBE_ADDRESS
    python -m services.demo seed                 # units, people, ~300 projects into DOCUMENTS_URL; life cycles start
    python -m services.demo scenario            # a private engine and store, a simulated year, the dashboard

See README.md in this folder for the demo accounts and the scenario's options.
"""
