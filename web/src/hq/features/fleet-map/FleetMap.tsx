// The live fleet map, drawn in SVG from the cloud's own geography: each outlet with its delivery
// zone and its pickup zone (a geofence), HQ's restricted areas, the deliveries under way (outlet
// to door), and every driver's latest position, moved by the fleet's live stream. No tile server
// is needed (none may be reachable); tiles are an optional layer underneath when the cloud names a
// tile server (`hq.tiles`). The projection is equirectangular around the area shown, which is true
// enough at a city's scale.

import { useEffect, useState } from "preact/hooks";
import type { Delivery, MapSettings, Outlet, Position, RestrictedArea } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { follow } from "../../../shared/api/stream";

const W = 1000;
const H = 700;

export function FleetMap({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
  const [drivers, setDrivers] = useState<Record<string, Position>>({});
  const [areas, setAreas] = useState<RestrictedArea[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [tiles, setTiles] = useState<MapSettings | null>(null);
  const [showTiles, setShowTiles] = useState(false);
  useEffect(() => {
    cloud
      .call<Position[]>("GET", "/api/v1/fleet/positions")
      .then((ps) => setDrivers(Object.fromEntries(ps.map((p) => [p.device_id, p]))))
      .catch(() => {});
    cloud
      .call<RestrictedArea[]>("GET", "/api/v1/restricted-areas")
      .then(setAreas)
      .catch(() => {});
    cloud
      .call<MapSettings>("GET", "/api/v1/map")
      .then(setTiles)
      .catch(() => {});
    cloud
      .call<Delivery[]>("GET", "/api/v1/deliveries")
      .then(setDeliveries)
      .catch(() => {});
    return follow(cloud, "/api/v1/fleet/live", (name, data) => {
      const p = (data as { position?: Position }).position;
      if (name === "position" && p) setDrivers((d) => ({ ...d, [p.device_id]: p }));
    });
  }, [cloud]);

  // The area shown: everything there is, with a margin.
  // Rings are [lon, lat] pairs.
  const points: number[][] = [
    ...outlets.flatMap((o) => [[o.position.lon, o.position.lat], ...o.delivery_zone]),
    ...areas.flatMap((a) => a.ring),
    ...Object.values(drivers).map((p) => [p.lon, p.lat]),
    ...deliveries.map((d) => [d.dropoff.position.lon, d.dropoff.position.lat]),
  ];
  if (points.length === 0) return <p role="status">Nothing to show yet: no outlets, areas or drivers.</p>;
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * k, 1e-4);
  const spanY = Math.max(maxLat - minLat, 1e-4);
  const scale = 0.9 * Math.min(W / spanX, H / spanY);
  const x = (lon: number) => W / 2 + ((lon - (minLon + maxLon) / 2) * k) * scale;
  const y = (lat: number) => H / 2 - (lat - (minLat + maxLat) / 2) * scale;
  // Tiles (Web Mercator) under the drawing, when configured and asked for: a zoom giving about
  // one tile per 256 pixels, each tile placed by its corners (straight enough at a city's scale).
  const tileImages: { href: string; x: number; y: number; w: number; h: number }[] = [];
  if (showTiles && tiles?.tiles) {
    const cx = (minLon + maxLon) / 2;
    const cy = (minLat + maxLat) / 2;
    const halfLon = W / 2 / (scale * k);
    const halfLat = H / 2 / scale;
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(((W / 256) * 360) / (2 * halfLon)))));
    const n = 2 ** z;
    const tx = (lon: number) => Math.floor(((lon + 180) / 360) * n);
    const ty = (lat: number) => {
      const r = (lat * Math.PI) / 180;
      return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    };
    const lonOf = (i: number) => (i / n) * 360 - 180;
    const latOf = (j: number) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * j) / n))) * 180) / Math.PI;
    for (let i = tx(cx - halfLon); i <= tx(cx + halfLon); i++) {
      for (let j = ty(cy + halfLat); j <= ty(cy - halfLat); j++) {
        const href = tiles.tiles.replace("{z}", String(z)).replace("{x}", String(i)).replace("{y}", String(j));
        tileImages.push({ href, x: x(lonOf(i)), y: y(latOf(j)), w: x(lonOf(i + 1)) - x(lonOf(i)), h: y(latOf(j + 1)) - y(latOf(j)) });
      }
    }
  }
  const path = (ring: number[][]) => ring.map(([lon, lat], i) => `${i ? "L" : "M"}${x(lon)},${y(lat)}`).join(" ") + " Z";
  const list = Object.values(drivers);
  return (
    <section aria-label="Fleet map">
      <h2>Fleet map</h2>
      <div class="legend" aria-hidden="true">
        <span><span class="swatch" style="background:#f2d3a8" />delivery zone</span>
        <span><span class="swatch" style="background:#f4b4b4" />restricted area</span>
        <span><span class="swatch" style="background:#8a2c0d" />outlet, and its pickup zone</span>
        <span><span class="swatch" style="background:#1d5c2e" />driver on a job</span>
        <span><span class="swatch" style="background:#0b57d0" />driver free</span>
        <span><span class="swatch" style="background:#6a3d9a" />delivery, outlet to door</span>
      </div>
      {tiles?.tiles && (
        <label class="inline">
          <input type="checkbox" checked={showTiles} onChange={() => setShowTiles(!showTiles)} />
          Show map tiles
        </label>
      )}
      <svg class="map" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Map: ${outlets.length} outlets, ${list.length} drivers, ${deliveries.length} deliveries under way`}>
        {tileImages.map((t) => (
          <image key={t.href} data-testid="tile" href={t.href} x={t.x} y={t.y} width={t.w} height={t.h} preserveAspectRatio="none" />
        ))}
        {outlets.map((o) => (
          <path key={`z-${o.id}`} d={path(o.delivery_zone)} fill="#f2d3a8" fill-opacity="0.5" stroke="#c08a4a" />
        ))}
        {areas.map((a) => (
          <path key={`a-${a.name}`} d={path(a.ring)} fill="#f4b4b4" fill-opacity="0.6" stroke="#a33">
            <title>{a.name}</title>
          </path>
        ))}
        {tiles &&
          outlets.map((o) => (
            <circle
              key={`p-${o.id}`}
              data-testid="pickup-zone"
              cx={x(o.position.lon)}
              cy={y(o.position.lat)}
              r={Math.max(4, (tiles.pickup_radius_m / 111_320) * scale)}
              fill="#8a2c0d"
              fill-opacity="0.15"
              stroke="#8a2c0d"
            >
              <title>{`${o.name}: pickup zone, ${tiles.pickup_radius_m} m`}</title>
            </circle>
          ))}
        {outlets.map((o) => (
          <g key={o.id} data-testid="outlet-marker">
            <rect x={x(o.position.lon) - 9} y={y(o.position.lat) - 9} width="18" height="18" fill="#8a2c0d" />
            <text x={x(o.position.lon) + 12} y={y(o.position.lat) + 5} font-size="18">
              {o.name}
            </text>
          </g>
        ))}
        {deliveries.map((d) => (
          <g key={d.id} data-testid="delivery-route">
            <line
              x1={x(d.pickup.position.lon)}
              y1={y(d.pickup.position.lat)}
              x2={x(d.dropoff.position.lon)}
              y2={y(d.dropoff.position.lat)}
              stroke="#6a3d9a"
              stroke-width="3"
              stroke-dasharray="8 6"
            />
            <circle cx={x(d.dropoff.position.lon)} cy={y(d.dropoff.position.lat)} r="6" fill="#6a3d9a">
              <title>{`Job ${d.job} to ${d.dropoff.name}: ${d.status.replace(/_/g, " ")}`}</title>
            </circle>
          </g>
        ))}
        {list.map((p) => (
          <circle
            key={p.device_id}
            data-testid="driver-marker"
            cx={x(p.lon)}
            cy={y(p.lat)}
            r="8"
            fill={p.job ? "#1d5c2e" : "#0b57d0"}
            opacity={p.online ? 1 : 0.4}
          >
            <title>{`${p.device_id}${p.job ? `, job ${p.job}` : ""}`}</title>
          </circle>
        ))}
      </svg>
      {showTiles && tiles?.attribution && <p class="attribution">Map tiles: {tiles.attribution}</p>}
      <table>
        <caption>Drivers</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Job</th>
            <th scope="col">Speed</th>
            <th scope="col">Online</th>
          </tr>
        </thead>
        <tbody>
          {list.map((p) => (
            <tr key={p.device_id}>
              <td>{p.device_id}</td>
              <td>{p.job ?? "none"}</td>
              <td>{(p.speed_mps * 3.6).toFixed(0)} km/h</td>
              <td>{p.online ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
