// A typed TypeScript client for the VC API: openapi-typescript turns spec/openapi.yaml into
// `vc-api.d.ts` (types only) and openapi-fetch makes the calls. `cargo xtask spec-clients`
// copies this file next to the generated types and compiles both with `tsc --strict`, so a spec
// change that breaks these calls fails the gate.
import createClient from "openapi-fetch";
import type { components, paths } from "./vc-api";

type Reserve = components["schemas"]["Reserve"];
type ApplyRequest = components["schemas"]["ReserveApplyRequest"];

/** A client for one tenant access token (`t-...`) or user access token (`u-...`). */
export function vcClient(accessToken: string, baseUrl = "https://open.feishu.cn") {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });
}

/** Every response is an envelope; a non-zero `code` is a failure even with HTTP 200. */
function unwrap<T>(envelope: { code: number; msg: string; data?: T } | undefined): T | undefined {
  if (envelope === undefined) throw new Error("no response body");
  if (envelope.code !== 0) throw new Error(`VC API error ${envelope.code}: ${envelope.msg}`);
  return envelope.data;
}

export async function getReserve(client: ReturnType<typeof vcClient>, reserveId: string): Promise<Reserve | undefined> {
  const { data, error } = await client.GET("/open-apis/vc/v1/reserves/{reserve_id}", {
    params: { path: { reserve_id: reserveId }, query: { user_id_type: "open_id" } },
  });
  if (error) throw new Error(`VC API error ${error.code}: ${error.msg}`);
  return unwrap(data)?.reserve;
}

export async function applyReserve(client: ReturnType<typeof vcClient>, ownerOpenId: string): Promise<string | undefined> {
  const body: ApplyRequest = {
    end_time: "1608883322",
    owner_id: ownerOpenId,
    meeting_settings: { topic: "weekly sync" },
  };
  const { data, error } = await client.POST("/open-apis/vc/v1/reserves/apply", {
    params: { query: { user_id_type: "open_id" } },
    body,
  });
  if (error) throw new Error(`VC API error ${error.code}: ${error.msg}`);
  return unwrap(data)?.reserve?.meeting_no;
}
