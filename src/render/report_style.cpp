// The clinical report's style sheet, and the Content-Security-Policy that admits only it.
#include "render/report_parts.h"

#include <cstddef>
#include <string>

#include "common/sha256.h"
#include "common/strings.h"

namespace dancer::analysis::report {

constexpr const char* kStyle = R"CSS(
:root{--ink:#111;--muted:#4a4a4a;--rule:#9a9a9a;--faint:#e4e4e4;--left:#1f4e9c;--right:#b3470c}
*{box-sizing:border-box}
html{font:10pt/1.4 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif;color:var(--ink);background:#fff}
body{margin:0}
main{max-width:980px;margin:0 auto;padding:24px 28px}
h1{font-size:17pt;margin:0 0 2pt}
h2{font-size:12.5pt;margin:16pt 0 5pt;padding-bottom:2pt;border-bottom:1.2pt solid var(--ink);break-after:avoid;page-break-after:avoid}
h3{font-size:10.5pt;margin:10pt 0 4pt;break-after:avoid;page-break-after:avoid}
p{margin:4pt 0}
.sub{color:var(--muted);margin:0 0 8pt}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);gap:2pt 10pt;margin:6pt 0;padding:6pt 8pt;border:0.8pt solid var(--rule)}
dl.meta dt{font-weight:bold}
dl.meta dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:4pt 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:0.6pt solid var(--rule);padding:2pt 4pt;text-align:left;vertical-align:top}
thead th{border-bottom:1.2pt solid var(--ink);vertical-align:bottom}
thead{display:table-header-group}
td.num,th.num{text-align:right;white-space:nowrap}
table.compact{font-size:8.5pt}
table.compact th,table.compact td{padding:1.5pt 3pt}
.unit,.reason,.n,.note,.src{color:var(--muted)}
.reason{font-size:8.5pt}
.n{font-size:8.5pt;display:block}
.flag{display:inline-block;font-size:7.5pt;border:0.6pt solid var(--ink);padding:0 2pt;margin-left:2pt;white-space:nowrap}
.verdict{font-weight:bold}
.note{font-size:8.5pt}
.side-l{font-weight:bold}
a.cite{color:inherit;text-decoration:none;font-size:8pt;vertical-align:super;margin-left:1pt}
figure{margin:6pt 0 10pt;break-inside:avoid;page-break-inside:avoid}
figcaption{font-size:8.5pt;color:var(--muted);margin-top:2pt}
svg{display:block;max-width:100%;height:auto}
svg.plot{width:100%}
svg text{font-family:inherit}
img{max-width:100%;height:auto;display:block}
table,figure,.keep,dl.meta,.limits,tr{break-inside:avoid;page-break-inside:avoid}
.limits{border:1.2pt solid var(--ink);padding:5pt 8pt;margin:8pt 0}
.limits ul,.quality ul{margin:2pt 0;padding-left:14pt}
.frames{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:6pt}
.frames figure{margin:0}
.frames img{width:100%;border:0.6pt solid var(--rule)}
ol.refs{padding-left:18pt;font-size:8.5pt}
ol.refs li{margin-bottom:2pt;break-inside:avoid}
table.summary th:first-child{width:17%}
table.summary td.value{width:19%}
table.summary td.value > span:first-child{white-space:nowrap}
td.bar{width:222px}
table.group th.grp{text-align:center;border-bottom:0.6pt solid var(--rule)}
table.group .sep{border-left:0.8pt solid var(--rule)}
table.facts{width:auto;min-width:60%}
table.refvals td,table.refvals th{font-size:8.5pt}
#stride-table thead th{white-space:normal}
footer{margin-top:14pt;font-size:8pt;color:var(--muted)}
@page{size:A4;margin:14mm 14mm 16mm 14mm;@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt;color:#4a4a4a}@bottom-left{content:"Gait analysis report";font-size:8pt;color:#4a4a4a}}
@media print{
  html{font-size:9.5pt}
  main{max-width:none;padding:0}
  h2{margin-top:12pt}
  a{color:inherit;text-decoration:none}
}
)CSS";

// The page's Content-Security-Policy: it may run no script, load nothing and submit nothing.
// Only its own style sheet applies (by its hash, so neither an injected <style> nor a style
// attribute would) and images only from data: URLs (the key frames). No frame-ancestors: a
// <meta> policy cannot carry it.
std::string content_security_policy() {
  const std::string hex = common::sha256_hex(kStyle);
  std::string digest;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return "default-src 'none'; style-src 'sha256-" + common::base64_encode(digest) +
         "'; img-src data:; base-uri 'none'; form-action 'none'";
}

}  // namespace dancer::analysis::report
