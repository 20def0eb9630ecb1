// The clinical report's Recording quality section: the warnings in words and how to film
// better, the recording checks, the recording in figures, and advice on filming.
#include "render/report_parts.h"

#include <string>
#include <vector>

namespace dancer::analysis::report {

namespace {

struct WarningText {
  const char* name;
  const char* what;    // what limited the analysis
  const char* better;  // how to film better ("" when nothing to do)
};

// Sized by its entries, so adding a warning is one entry.
constexpr WarningText kWarnings[] = {
    {"no_person", "Nobody was seen in the video long enough to analyse.",
     "Film the whole body, head to feet, from the side, in good light."},
    {"front_view",
     "The person faced the camera, and no step could be timed from the front either. Step "
     "length and joint angles need a side view.",
     "Place the camera at the side of the walkway, at hip height, square to the walking "
     "direction, so the person crosses the picture."},
    {"frontal_view_timing_only",
     "Walked toward or away from the camera: the steps were timed from the front (cadence, "
     "step and stride times), but step length, walking speed, stance and swing phases and joint "
     "angles need a side view and were not measured.",
     "For lengths, speed and joint angles, place the camera at the side of the walkway, at hip "
     "height, square to the walking direction."},
    {"no_walking_pass", "A person was seen, but no stretch of steady walking across the picture.",
     "Ask for steady walking across the whole picture: start walking before entering it and "
     "keep going until after leaving it."},
    {"too_few_strides",
     "Fewer than 3 complete strides were measured in all: averages are missing or rest on very "
     "few strides.",
     "Record at least 3 strides per side (5 or more is better): walk several times across the "
     "picture, or use a longer walkway with the camera further back."},
    {"too_few_strides_left",
     "Some left-side values rest on fewer than 3 strides and are not reported; symmetry indices "
     "that need them are missing too.",
     "Record more passes so that each side has at least 3 (better 5 or more) strides."},
    {"too_few_strides_right",
     "Some right-side values rest on fewer than 3 strides and are not reported; symmetry indices "
     "that need them are missing too.",
     "Record more passes so that each side has at least 3 (better 5 or more) strides."},
    {"start_stop_strides_in_means",
     "Fewer than 3 strides of steady walking on a side: the averages include the first steps "
     "from standing and the last before stopping, which are shorter and slower.",
     "Ask for a longer walk: start walking before entering the picture and keep going until "
     "after leaving it, or record several passes."},
    {"backward_walking",
     "A pass was walked backward. Its events are the feet's extremes as in forward walking, "
     "which no published validation covers.",
     "Ask the person to walk forward across the picture, turning outside it."},
    {"overlay_failed",
     "The skeleton could not be drawn on this video (no verification video and no key frames); "
     "the measurements are not affected.",
     "Record with a common phone or camera setting (H.264, 720p or 1080p)."},
    {"low_frame_rate",
     "The video has too few frames per second: the timing of each foot event is uncertain by "
     "half a frame, more than video methods' agreement with motion capture.",
     "Record at 30 frames per second or more (60 is better)."},
    {"no_walking_detected", "A person was seen, but no regular walking was found.",
     "Ask for steady walking across the picture, several strides long."},
    {"too_few_steps", "Walking was found, but too few steps for step statistics.",
     "Record a longer walk: at least 3 strides per side."},
    {"too_short", "The video lasts less than a second.",
     "Record the whole walk, from before the first step to after the last."},
    {"low_resolution", "The picture is small (its short side below 240 pixels).",
     "Record at 720p or more, with the person filling most of the picture's height."},
    {"too_dark", "The video is too dark for the body to be seen reliably.",
     "Film in good, even light; switch on room lights and avoid filming into shadow."},
    {"overexposed", "The video is overexposed: much of the picture is washed out.",
     "Avoid filming against a window or bright light; reduce exposure."},
    {"camera_moving", "The camera moved during the recording.",
     "Keep the camera still: use a tripod or rest it on a stable surface; do not pan or zoom."},
    {"multiple_people", "More than one person was in view much of the time.",
     "Only the person being assessed should be in the picture; others stay behind the camera."},
    {"person_cut_by_frame_edge",
     "The person was cut by the top or bottom of the picture much of the time.",
     "Keep the whole body, head to feet, in the picture throughout: step back or zoom out."},
    {"rotation_applied",
     "The video was recorded rotated; the rotation it states was applied before analysis.", ""},
    {"non_monotonic_timestamps",
     "The video's clock went backward (for example, a recording joined to itself); the frames "
     "from that point were not analysed again.",
     "Upload the original recording from the phone or camera, not an edited copy."},
    {"frame_rate_sampled",
     "The video was recorded at a high frame rate and analysed at 60 frames per second.", ""},
    {"subject_height_refused",
     "The subject height sent with the video was not a height in metres between 0.5 and 2.5, so "
     "it was not used: speed and lengths are in body heights only.",
     "Send the height in metres, for example 1.72 (not centimetres or feet)."},
    {"measures_withheld",
     "A recording check failed, so the measures it names are not reported (see the checks "
     "below): no numbers are better than wrong numbers.",
     "Follow the advice of the failed check when filming next time."},
    {"blurred", "The picture of the person is blurred: heels and toes cannot be placed precisely.",
     "Film in more light, with a clean lens and the focus on the person."},
    {"subject_too_small", "The person is small in the picture: too few pixels for heels and toes.",
     "Move the camera closer so the person fills most of the picture's height."},
};

// The recording checks' names and units in words.
struct CheckText {
  const char* name;
  const char* label;
  const char* unit;
  int decimals;
};

constexpr CheckText kChecks[] = {
    {"frame_rate", "Frame rate", "frames/s", 1},
    {"resolution", "Picture size (short side)", "pixels", 0},
    {"subject_size", "Person's height in the picture", "pixels", 0},
    {"exposure", "Brightness on the person", "of 255", 0},
    {"sharpness", "Sharpness of the person", "", 2},
    {"camera_motion", "Camera movement", "picture widths/s", 3},
    {"feet_in_frame", "Feet in the picture", "% of the frames", 0},
    {"duration", "Strides measured", "", 0},
};

// The named checks: what was measured, the verdict, and what to do about a warn or fail.
void quality_checks(std::string& out, const std::vector<QualityCheck>& checks) {
  if (checks.empty()) return;
  out +=
      "<table id=\"checks\" class=\"compact\"><thead><tr><th scope=\"col\">Check</th>"
      "<th scope=\"col\">Result</th><th scope=\"col\">Measured</th><th scope=\"col\">What "
      "to do</th></tr></thead><tbody>";
  for (const QualityCheck& c : checks) {
    const std::string& name = c.name;
    const std::string verdict = to_string(c.verdict);
    const CheckText* known = nullptr;
    for (const auto& k : kChecks) {
      if (name == k.name) known = &k;
    }
    std::string measured = "not measured";
    // As to_json(QualityCheck) writes it: to 1/10000.
    if (auto v = as_written(c.value, 1e4)) {
      if (name == "feet_in_frame") *v *= 100;
      measured = fixed(*v, known ? known->decimals : 2);
      if (known && *known->unit) measured += std::string(" ") + known->unit;
    }
    std::string advice = esc(c.advice);
    std::vector<std::string> kept_out;
    for (const std::string& key : c.withholds) {
      if (key == "walking_speed") kept_out.emplace_back("walking speed, step and stride lengths");
      if (key == "stance_s") kept_out.emplace_back("stance, swing and support phases");
    }
    if (!kept_out.empty()) {
      advice += " <em>Not reported:</em> " + kept_out.front();
      if (kept_out.size() > 1) advice += "; " + kept_out.back();
      advice += ".";
    }
    out += "<tr data-check=\"" + esc(name) + "\" data-check-verdict=\"" + esc(verdict) +
           "\"><th scope=\"row\">" + esc(known ? known->label : name) + "</th><td>" +
           (verdict == "pass"   ? "passed"
            : verdict == "warn" ? "<strong>warning</strong>"
                                : "<strong>failed</strong>") +
           "</td><td class=\"num\">" + measured + "</td><td>" + advice + "</td></tr>";
  }
  out += "</tbody></table>";
}

}  // namespace

void quality_section(std::string& out, const GaitResult& result) {
  out += "<section id=\"quality\" class=\"quality\"><h2>Recording quality</h2>";
  const std::vector<std::string> warnings = quality_warnings(result);
  if (warnings.empty()) {
    out += "<p id=\"no-warnings\">No problem with the recording was detected.</p>";
  } else {
    out += "<ul id=\"warnings\">";
    for (const std::string& name : warnings) {
      const WarningText* known = nullptr;
      for (const auto& k : kWarnings) {
        if (name == k.name) known = &k;
      }
      out += "<li data-warning=\"" + esc(name) + "\">";
      if (known) {
        out += known->what;
        if (*known->better) out += " <em>Next time:</em> " + std::string(known->better);
      } else {
        out += "The analyzer reported “" + esc(name) + "”.";
      }
      out += "</li>";
    }
    out += "</ul>";
  }
  quality_checks(out, result.checks);
  // The recording in figures, as to_json writes quality.<key>: counts, and the frame rate.
  const media::VideoStreamInfo& info = result.video.info;
  out += "<table class=\"compact facts\"><tbody>";
  const auto row = [&](const char* label, const std::string& figure) {
    out += "<tr><th scope=\"row\">" + std::string(label) + "</th><td class=\"num\">" + figure +
           "</td></tr>";
  };
  const auto count = [&](const char* label, const char* key, long long n) {
    row(label,
        metric_span(std::string("quality.") + key, raw_count(n), fixed(static_cast<double>(n), 0)));
  };
  count("Frames decoded", "frames", result.gait.frames);
  count("Frames with the person", "frames_with_person", result.gait.frames_with_person);
  count("Frames where the hips or feet were too uncertain", "frames_low_visibility",
        result.gait.frames_low_visibility);
  count("Frames with joint angles", "frames_with_angles", result.angles.frames_with_angles);
  if (const auto fps = as_written(info.fps)) {
    row("Frame rate", metric_span("quality.fps", raw_value(fps), fixed(*fps, 2)) + " frames/s");
  }
  out += "<tr><th scope=\"row\">Picture size</th><td class=\"num\">" +
         metric_span("quality.resolution.width", raw_count(info.width), fixed(info.width, 0)) +
         " × " +
         metric_span("quality.resolution.height", raw_count(info.height), fixed(info.height, 0)) +
         " pixels</td></tr>";
  count("Steps found", "steps", result.gait.steps);
  count("Strides measured", "strides", static_cast<long long>(result.table.strides.size()));
  count("Times tracking moved to another person", "walker_switches", result.video.walker_switches);
  out += "</tbody></table>";
  out +=
      "<h3>Filming for gait analysis</h3><ul id=\"filming\">"
      "<li>Side view: the camera square to the walkway, at about hip height.</li>"
      "<li>The whole body visible, head to feet, throughout the walk.</li>"
      "<li>The camera still (tripod); no panning or zooming.</li>"
      "<li>Several strides: at least 3 per side, better 5 or more (several passes).</li>"
      "<li>Good, even light; nobody else in the picture.</li>"
      "<li>30 frames per second or more.</li></ul></section>";
}

}  // namespace dancer::analysis::report
