// The cloud's JSON as the dashboard reads it: names for the schemas of the cloud's /openapi.json
// (cloud.gen.ts, written by scripts/api-types), in one place.

import type { components } from "./cloud.gen";

type Schemas = components["schemas"];

export type Delivery = Schemas["Delivery"];
export type InboxItem = Schemas["InboxItem"];
export type NotificationMessage = Schemas["Message"];
export type MapSettings = Schemas["MapSettings"];
export type Order = Schemas["Order"];
export type Outlet = Schemas["Outlet"];
export type OutletSales = Schemas["OutletSales"];
export type OutletStock = Schemas["OutletStock"];
export type OutletSync = Schemas["OutletSync"];
export type Position = Schemas["DevicePosition"];
export type RestrictedArea = Schemas["RestrictedArea"];
export type Role = Schemas["Role"];
export type User = Schemas["User"];
export type VersionSummary = Schemas["VersionSummary"];

/// One outlet's differences from the chain's menu. The document describes the catalog's
/// `outlets` map only as an object (protocol's `Catalog` gives it `value_type = Object`), so
/// this shape is written here, after protocol's `OutletCatalog`.
export interface OutletCatalog {
  /// Base prices that differ here, minor units, by item id.
  prices?: Record<string, number>;
  /// Items not sold here.
  unavailable?: string[];
}

/// The catalog draft (GET/PUT /api/v1/catalog/draft): the chain's menu and each outlet's
/// differences, by outlet id.
export type Draft = Omit<Schemas["Catalog"], "outlets"> & { outlets: Record<string, OutletCatalog> };
