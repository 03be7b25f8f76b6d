"""YAML call flows: loading and validation, the pure engine, scripted runs and drawings."""

from robocall.flows.loader import Flow, load_flow, load_flows, parse_flow
from robocall.flows.problems import FlowError, Problem

__all__ = ["Flow", "FlowError", "Problem", "load_flow", "load_flows", "parse_flow"]
