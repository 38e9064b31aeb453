//! Generated types of `proto/compute_driver.proto` (package `openshell.compute.v1`).

#![allow(clippy::all, clippy::pedantic)]

tonic::include_proto!("openshell.compute.v1");
