// The cloud's JSON, as far as the dashboard reads it.
import type { DayFigures } from "../shared/figures";

export interface User {
  id: string;
  email: string;
  name: string;
  role: "hq_admin" | "outlet_manager" | "outlet_staff" | "driver" | "customer";
  outlet_id: string | null;
}

export interface Outlet {
  id: string;
  name: string;
  position: { lat: number; lon: number };
  /// [lon, lat] pairs, closed.
  delivery_zone: [number, number][];
  status: string;
  currency: string;
}

/// One outlet's figures for one of its local days (`GET /api/v1/outlets/{id}/sales`).
export interface OutletSales extends DayFigures {
  outlet_id: string;
}

export interface OutletSync {
  outlet_id: string;
  link: string;
  since_ms: number | null;
  seen_ms: number;
  open_conflicts: number;
}

export interface OutletStock {
  ingredient_id: string;
  name: string;
  unit: string;
  on_hand: number;
  reorder_level: number;
}

export interface Position {
  device_id: string;
  driver_id: string;
  lat: number;
  lon: number;
  speed_mps: number;
  job: number | null;
  online: boolean;
}

export interface CatalogModifier {
  id: string;
  name: string;
  price_delta: number;
}

export interface CatalogItem {
  id: string;
  name: string;
  category_id: string;
  price: number;
  modifier_groups?: { id: string; name: string; modifiers: CatalogModifier[] }[];
}

export interface Draft {
  menu: { version: number; currency: string; categories: { id: string; name: string }[]; items: CatalogItem[] };
  outlets: Record<string, { prices?: Record<string, number>; unavailable?: string[] }>;
}

export interface Order {
  id: string;
  number: number;
  status: string;
  channel: string;
  fulfilment: string;
  total: number;
  currency: string;
  created_ms: number;
  lines: { name: string; quantity: number; line_total: number; modifiers: { name: string }[] }[];
}
