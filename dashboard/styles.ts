/** The dashboard's stylesheet, served as an asset (and inlined into exports). */
export const dashboardCss = `
*{box-sizing:border-box}
:root{--ink:#1d2230;--muted:#6b7280;--line:#e3e6ee;--bg:#f7f8fb;--accent:#3949ab;--hot:#d81b60;--ok:#2e7d32;--bad:#c62828}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
a{color:var(--accent)}
header.top{display:flex;align-items:center;gap:1rem;padding:.6rem 1.2rem;background:#1d2230;color:#fff}
header.top a{color:#fff;text-decoration:none}
header.top .brand{font-weight:700;letter-spacing:.02em}
header.top .brand span{color:#f48fb1}
header.top nav{margin-left:auto;display:flex;gap:1rem;align-items:center}
main{padding:1rem 1.2rem;max-width:1500px;margin:0 auto}
h1{font-size:1.3rem;margin:.2rem 0 .8rem}
h2{font-size:1rem;margin:0 0 .5rem}
h2 small,h1 small{color:var(--muted);font-weight:400}
h3{font-size:.9rem;margin:.8rem 0 .4rem}
.muted{color:var(--muted)}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem;margin-bottom:1rem}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem .8rem;align-items:flex-end}
form.filters label{display:flex;flex-direction:column;font-size:.78rem;color:var(--muted);gap:.15rem}
form.filters input,form.filters select{font:inherit;padding:.3rem .4rem;border:1px solid #cfd4e0;border-radius:5px;background:#fff;color:var(--ink)}
form.filters input[type=number]{width:6.5rem}
form.filters input.wide{width:16rem}
button,.button{font:inherit;padding:.3rem .7rem;border:1px solid #cfd4e0;border-radius:5px;background:#fff;color:var(--ink);cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{border-color:var(--accent)}
button.primary,.button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger,.button.danger{color:var(--bad);border-color:#f3c2c2}
table.recordings{width:100%;border-collapse:collapse;background:#fff}
table.recordings th,table.recordings td{text-align:left;padding:.38rem .5rem;border-bottom:1px solid var(--line);white-space:nowrap}
table.recordings th{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
table.recordings th a{color:inherit;text-decoration:none}
table.recordings th a.sorted{color:var(--ink)}
table.recordings td.url{max-width:22rem;overflow:hidden;text-overflow:ellipsis}
table.recordings td.num{text-align:right;font-variant-numeric:tabular-nums}
table.recordings tr:hover td{background:#fafbff}
table.recordings form{display:inline}
table.corrupt td.reason{white-space:normal;color:var(--bad)}
.status{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.75rem;margin-right:.2rem;background:#eef0f5}
.status-active{background:#fde7ef;color:var(--hot)}
.status-finalized{background:#e8f5e9;color:var(--ok)}
.status-truncated,.status-dropped{background:#fff3e0;color:#e65100}
.status-recovered{background:#e3f2fd;color:#1565c0}
.fidelity.ok{color:var(--ok)}.fidelity.bad{color:var(--bad);font-weight:600}.fidelity.unknown{color:var(--muted)}
.pager{display:flex;gap:.6rem;align-items:center;margin-top:.7rem}
.pulse{font-size:.75rem;color:var(--muted);font-weight:400}.pulse.on{color:var(--hot)}
.ended{background:#fffde7;border:1px solid #fff59d;padding:.4rem .6rem;border-radius:5px}
.stats{color:var(--muted);font-size:.8rem;margin:0 0 .8rem}
.stats .stat{margin-right:1rem;white-space:nowrap}.stats .stat b{color:var(--ink)}
.stats .stat.warn,.stats .stat.warn b{color:#e65100}
.notice-bar{background:#e8f5e9;border:1px solid #c8e6c9;padding:.4rem .7rem;border-radius:5px;margin-bottom:1rem}
.meta{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;margin:.2rem 0 .9rem;color:var(--muted)}
.meta b{color:var(--ink);font-weight:600}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;margin-left:auto}
.actions form{display:inline}
.title-row{display:flex;align-items:center;gap:1rem;flex-wrap:wrap}
.player{display:grid;grid-template-columns:minmax(0,1fr) 430px;grid-template-rows:auto auto 1fr;grid-template-areas:"stage panels" "timeline panels" "controls panels";gap:.6rem 1rem}
.stage{grid-area:stage;position:relative;height:540px;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
.frames{position:absolute;inset:0}
iframe.frame{position:absolute;inset:0;width:100%;height:100%;border:0;background:#fff}
iframe.frame.back{visibility:hidden}
.loading{position:absolute;right:.6rem;top:.5rem;background:#1d2230;color:#fff;font-size:.75rem;padding:.15rem .5rem;border-radius:4px;opacity:.85}
.timeline{grid-area:timeline}
svg.density{display:block;width:100%;height:30px;background:#fff;border:1px solid var(--line);border-bottom:0;border-radius:6px 6px 0 0}
.scrubber{position:relative;cursor:pointer;user-select:none;touch-action:none}
.scrubber svg{display:block;width:100%;height:32px;border:1px solid var(--line);border-radius:0 0 6px 6px}
.scrubber:focus{outline:2px solid var(--accent);outline-offset:1px}
.legend{display:flex;gap:.8rem;font-size:.72rem;color:var(--muted);margin-top:.25rem}
.legend i{display:inline-block;width:.6rem;height:.6rem;border-radius:2px;margin-right:.25rem;vertical-align:-1px}
.controls{grid-area:controls;align-self:start;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.controls .clock{font-variant-numeric:tabular-nums;font-family:ui-monospace,monospace;min-width:11rem}
.controls .speeds{display:inline-flex}
.controls .speeds button{border-radius:0;margin-left:-1px}
.controls .speeds button:first-child{border-radius:5px 0 0 5px}
.controls .speeds button:last-child{border-radius:0 5px 5px 0}
.controls button[aria-pressed=true]{background:#e8eaf6;border-color:var(--accent);color:var(--accent);font-weight:600;position:relative}
.controls button.live{color:var(--muted)}.controls button.live.on{color:#fff;background:var(--hot);border-color:var(--hot)}
.controls .frame-pos{color:var(--muted);font-size:.85rem}
.controls .notice{color:var(--muted);font-size:.8rem;font-style:italic}
#play{min-width:3rem}
.controls button{display:inline-flex;align-items:center;justify-content:center;min-height:2rem}
svg.icon{display:block}
table.recordings th.num{text-align:right}
.panels{grid-area:panels;display:flex;flex-direction:column;gap:.8rem;min-width:0}
.events-panel,.inspector{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem .7rem}
.event-list{overflow-y:auto;position:relative;border-top:1px solid var(--line)}
.event-spacer{position:relative}
.event{position:absolute;left:0;right:0;height:26px;display:flex;gap:.45rem;align-items:center;padding:0 .3rem;cursor:pointer;border-bottom:1px solid #f1f2f6;font-size:.8rem;white-space:nowrap;overflow:hidden}
.event:hover{background:#f5f6fb}
.event.current{background:#fde7ef;box-shadow:inset 3px 0 var(--hot)}
.event.future{opacity:.55}
.event .offset{font-family:ui-monospace,monospace;color:var(--muted);font-size:.75rem}
.event .kind{color:#fff;border-radius:3px;padding:0 .3rem;font-size:.68rem;min-width:3.3rem;text-align:center}
.event .label{font-weight:600;overflow:hidden;text-overflow:ellipsis;max-width:11rem;flex-shrink:0}
.event .detail{color:var(--muted);overflow:hidden;min-width:0;text-overflow:ellipsis;font-family:ui-monospace,monospace;font-size:.72rem}
.inspector{max-height:640px;overflow:auto}
table.assigns{width:100%;border-collapse:collapse;font-size:.8rem}
table.assigns th{text-align:left;vertical-align:top;padding:.25rem .4rem;font-family:ui-monospace,monospace;font-weight:600;white-space:nowrap;width:1%}
table.assigns td{padding:.25rem .4rem}
table.assigns tr{border-bottom:1px solid #f1f2f6}
table.assigns tr.changed{background:#fff8e1}
table.assigns tr.changed th{color:#e65100}
table.assigns .dot{color:#e65100;font-size:.6rem;margin-left:.3rem;vertical-align:2px}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
.diff-entry{margin-bottom:.5rem}
.diff-key{font-family:ui-monospace,monospace;font-weight:600;font-size:.8rem}
pre.del{background:#ffebee;color:#b71c1c;padding:.15rem .35rem;border-radius:3px}
pre.del::before{content:"− "}
pre.add{background:#e8f5e9;color:#1b5e20;padding:.15rem .35rem;border-radius:3px;margin-top:2px}
pre.add::before{content:"+ "}
.badge{font-size:.7rem;padding:0 .4rem;border-radius:8px;font-weight:600;vertical-align:1px}
.badge.ok{background:#e8f5e9;color:var(--ok)}.badge.bad{background:#ffebee;color:var(--bad)}
.error-page{max-width:46rem;margin:3rem auto}
.error-page pre{background:#fff;border:1px solid var(--line);padding:.8rem;border-radius:6px}
kbd{font:11px ui-monospace,monospace;border:1px solid #cfd4e0;border-bottom-width:2px;border-radius:3px;padding:0 .3rem;background:#fff}
.keys{color:var(--muted);font-size:.78rem}
@media (max-width:1100px){.player{grid-template-columns:1fr;grid-template-areas:"stage" "timeline" "controls" "panels"}}
`;
