"""Hand-written DuckDB SQL for the suite metrics beyond the five heavy ones in
``bench/analytics.py`` (same definitions as docs/analytics.md, window 2024-01-01..2026-01-01,
months, merchant 1): together they are the whole ``compute_suite`` done by hand."""

from __future__ import annotations

W = "placed_local >= DATE '2024-01-01' AND placed_local < DATE '2026-01-01'"
P = (
    "(SELECT id AS order_id, member_id, placed_local, total_minor - refunded_minor AS net "
    "FROM orders WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled'))"
)
M = "year({c}) * 12 + month({c}) - 1"
LEDGER = """(SELECT a.code account_code, a.member_id, p.asset, p.amount, e.occurred_local
  FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
  JOIN journal_entries e ON e.id = p.entry_id WHERE p.merchant_id = 1)"""

MORE_SQL = {
    "window_summary": f"""
WITH p AS (SELECT * FROM {P} WHERE {W}),
f AS (SELECT member_id, min(placed_local) fp FROM {P} WHERE member_id IS NOT NULL GROUP BY 1),
per AS (SELECT member_id, count(*) n, sum(net) rev, any_value(fp) >= DATE '2024-01-01' is_new
        FROM p JOIN f USING (member_id) GROUP BY 1)
SELECT (SELECT count(*) FROM p), count(*), sum(is_new::INT), count(*) - sum(is_new::INT),
  (SELECT sum(net) FROM p), (SELECT sum(net) / count(*) FROM p), sum(n) / count(*),
  sum((n >= 2)::INT) / count(*), sum(CASE WHEN is_new THEN 0 ELSE rev END) / sum(rev)
FROM per""",
    "pareto_curve": f"""
WITH r AS (SELECT member_id, sum(net) rev FROM {P} WHERE {W} AND member_id IS NOT NULL
           GROUP BY 1),
k AS (SELECT rev, row_number() OVER (ORDER BY rev DESC, member_id) pos, count(*) OVER () n
      FROM r),
d AS (SELECT (pos * 10 + n - 1) // n decile, sum(rev) rev FROM k GROUP BY 1)
SELECT decile, rev, sum(rev) OVER (ORDER BY decile) / sum(rev) OVER () FROM d ORDER BY 1""",
    "members_vs_non_members": f"""
SELECT CASE WHEN m.registered_local <= p.placed_local THEN 'member' ELSE 'non_member' END g,
  count(*), count(p.member_id), count(DISTINCT p.member_id), sum(net),
  count(p.member_id) / count(DISTINCT p.member_id), sum(net) / count(*)
FROM {P} p LEFT JOIN members m ON m.id = p.member_id AND m.merchant_id = 1
WHERE {W} GROUP BY 1 ORDER BY 1""",
    "dau_mau": f"""
WITH a AS (SELECT member_id, placed_local ts FROM {P} WHERE {W} AND member_id IS NOT NULL
           UNION ALL SELECT member_id, visited_local FROM portal_visits
           WHERE merchant_id = 1 AND visited_local >= DATE '2024-01-01'
             AND visited_local < DATE '2026-01-01')
SELECT 'day', ts::DATE::VARCHAR, count(DISTINCT member_id) FROM a GROUP BY 2
UNION ALL SELECT 'month', ({M.format(c="ts")})::VARCHAR, count(DISTINCT member_id) FROM a
GROUP BY 2""",
    "portal_conversion": f"""
WITH v AS (SELECT member_id, {M.format(c="visited_local")} m, min(visited_local) fv
           FROM portal_visits WHERE merchant_id = 1 AND visited_local >= DATE '2024-01-01'
             AND visited_local < DATE '2026-01-01' GROUP BY 1, 2),
b AS (SELECT v.m, v.member_id, bool_or(p.order_id IS NOT NULL) bought FROM v
      LEFT JOIN (SELECT *, {M.format(c="placed_local")} m FROM {P} WHERE {W}) p
        ON p.member_id = v.member_id AND p.m = v.m AND p.placed_local >= v.fv GROUP BY 1, 2)
SELECT m, count(*), sum(bought::INT), sum(bought::INT) / count(*) FROM b GROUP BY 1 ORDER BY 1""",
    "funnel": """
WITH t AS (SELECT member_id, from_stage, to_stage, moved_local,
             year(moved_local) * 12 + month(moved_local) - 1 m FROM funnel_transitions
           WHERE merchant_id = 1),
first_t AS (SELECT member_id, arg_min(from_stage, moved_local) s0 FROM t GROUP BY 1),
d AS (SELECT year(mb.created_local) * 12 + month(mb.created_local) - 1 m,
        coalesce(f.s0, mb.funnel_stage) stage, 1 n
      FROM members mb LEFT JOIN first_t f ON f.member_id = mb.id
      WHERE mb.merchant_id = 1 AND (f.member_id IS NULL OR f.s0 IS NOT NULL)
      UNION ALL SELECT m, to_stage, 1 FROM t
      UNION ALL SELECT m, from_stage, -1 FROM t WHERE from_stage IS NOT NULL),
dm AS (SELECT greatest(m, 24287) m, stage, sum(n) n FROM d WHERE m <= 24311 GROUP BY 1, 2),
counts AS (SELECT m, stage, sum(n) OVER (PARTITION BY stage ORDER BY m) n FROM dm),
moves AS (SELECT m, coalesce(from_stage, '') fs, to_stage, count(*) n FROM t
          WHERE m BETWEEN 24288 AND 24311 GROUP BY 1, 2, 3)
SELECT mv.m, mv.fs, mv.to_stage, mv.n, coalesce(c.n, 0), mv.n / c.n
FROM moves mv ASOF LEFT JOIN counts c ON c.stage = mv.fs AND mv.m - 1 >= c.m
ORDER BY 1, 2, 3""",
    "rfm_segments": f"""
WITH per AS (SELECT member_id, max(epoch(placed_local)::BIGINT // 86400) last_day, count(*) f,
    sum(net) m FROM {P} WHERE {W} AND member_id IS NOT NULL GROUP BY 1),
s AS (SELECT 1 + ((rank() OVER (ORDER BY last_day) - 1) * 5) // count(*) OVER () r,
   (1 + ((rank() OVER (ORDER BY f) - 1) * 5) // count(*) OVER ()
    + 1 + ((rank() OVER (ORDER BY m) - 1) * 5) // count(*) OVER ()) // 2 fm, m FROM per),
g AS (SELECT CASE WHEN r = 5 AND fm >= 4 THEN 'champions'
   WHEN r IN (3, 4) AND fm >= 4 THEN 'loyal' WHEN r >= 4 AND fm IN (2, 3) THEN 'potential_loyalist'
   WHEN r = 5 AND fm = 1 THEN 'new' WHEN r = 4 AND fm = 1 THEN 'promising'
   WHEN r = 3 AND fm = 3 THEN 'need_attention' WHEN r = 3 AND fm <= 2 THEN 'about_to_sleep'
   WHEN r <= 2 AND fm = 5 THEN 'cant_lose' WHEN r <= 2 AND fm IN (3, 4) THEN 'at_risk'
   WHEN r = 2 THEN 'hibernating' ELSE 'lost' END seg, m FROM s)
SELECT seg, count(*), sum(m), count(*) / sum(count(*)) OVER (), sum(m) / sum(sum(m)) OVER ()
FROM g GROUP BY 1 ORDER BY 1""",
    "points_and_liability": f"""
WITH l AS {LEDGER},
flows AS (SELECT {M.format(c="occurred_local")} m,
    -sum(CASE WHEN account_code = 'points_issued' THEN amount ELSE 0 END) issued,
    sum(CASE WHEN account_code = 'points_redeemed' THEN amount ELSE 0 END) redeemed,
    sum(CASE WHEN account_code = 'points_expired' THEN amount ELSE 0 END) expired
  FROM l WHERE member_id IS NULL
    AND account_code IN ('points_issued', 'points_redeemed', 'points_expired')
    AND occurred_local >= DATE '2024-01-01' AND occurred_local < DATE '2026-01-01' GROUP BY 1),
liab AS (SELECT greatest({M.format(c="occurred_local")}, 24287) m, asset, sum(amount) ch FROM l
  WHERE member_id IS NOT NULL AND asset IN ('points', 'stored_principal', 'stored_bonus')
    AND occurred_local < DATE '2026-01-01' GROUP BY 1, 2)
SELECT 'flow', m, issued, redeemed, expired, NULL FROM flows
UNION ALL SELECT 'breakage', NULL, NULL, sum(redeemed), sum(expired),
  sum(expired) / (sum(redeemed) + sum(expired)) FROM flows
UNION ALL SELECT asset, m, NULL, NULL, NULL, sum(ch) OVER (PARTITION BY asset ORDER BY m)
FROM liab""",
    "coupons_tiers_mall_payments": f"""
SELECT 'coupons', {M.format(c="issued_local")} m, count(*),
  sum((redeemed_local < DATE '2026-01-01')::INT),
  sum((redeemed_local < DATE '2026-01-01')::INT) / count(*), NULL
FROM coupon_codes WHERE merchant_id = 1 AND issued_local >= DATE '2024-01-01'
  AND issued_local < DATE '2026-01-01' GROUP BY 2
UNION ALL SELECT 'tiers', NULL, count(*), NULL, NULL, tier_code FROM member_tiers
  WHERE merchant_id = 1 GROUP BY tier_code
UNION ALL SELECT 'moves', {M.format(c="changed_local")}, count(*), NULL, NULL,
  coalesce(from_code, '') || '>' || to_code FROM tier_changes
  WHERE merchant_id = 1 AND changed_local >= DATE '2024-01-01'
    AND changed_local < DATE '2026-01-01' GROUP BY 2, 6
UNION ALL SELECT 'mall', {M.format(c="created_local")}, count(*), count(DISTINCT member_id),
  sum(points), NULL FROM mall_orders WHERE merchant_id = 1 AND status <> 'cancelled'
  AND created_local >= DATE '2024-01-01' AND created_local < DATE '2026-01-01' GROUP BY 2
UNION ALL SELECT 'pay', {M.format(c="created_local")}, count(*), sum(cash_minor),
  sum(points_value_minor), (sum(stored_principal_minor + stored_bonus_minor))::VARCHAR
FROM order_payments WHERE merchant_id = 1 AND created_local >= DATE '2024-01-01'
  AND created_local < DATE '2026-01-01' GROUP BY 2""",
}
