// Gait events of a walk seen from the front (toward the camera) or the back (away from it):
// the view of the pass, initial contact and toe-off per foot, and the steps and strides that
// give step time, stride time and cadence.
//
// What a frontal view can measure. Temporal measures from frontal and posterior videos agree
// with instrumented references (Mehdizadeh et al. 2021, J NeuroEng Rehabil 18; Stenum et
// al. 2024, PLOS Digit Health 3:e0000467, who measured step time and cadence from frontal
// videos of clinical populations). Step width from 2D keypoints did not agree (Mehdizadeh et
// al. 2021), and frontal-plane angles from one camera mix the limb's rotation with its tilt, so
// neither is reported. Step length and walking speed need the walker's distance to the camera
// along the walk, which one uncalibrated camera does not give (the change of apparent size
// gives the ratio of distances, not metres: Stenum et al. 2024 needed a reference of known
// size in the walkway), so they are not reported either.
//
// Method (why this one). In a side view an event is the foot's largest reach ahead of or
// behind the pelvis (Zeni et al. 2008). From the front that reach runs along the camera's axis
// and shows only as a small shift of the foot in the image; what the image shows clearly is the
// foot's vertical path. Each step lifts the heel (heel rise, then toe-off), carries it through
// swing and lowers it onto the floor: in the image the heel rises fastest just as the foot
// leaves the floor and is lowest where it has landed (the vertical-trajectory events of
// Hreljac and Marshall 2000, J Biomech 33:783, read from the image instead of markers). So:
// - the heel's height is measured against the feet's own path, the mean of both heels low-passed
//   to the stride (1 Hz), in body heights: camera tilt, the walker's approach and the image
//   scale all cancel, and the stance heel is nearly still against it;
// - a swing is a clear peak of a heel's height (the heel highest within half a short step either
//   side, at least min_lift above its surroundings) while it stands above the other heel: the
//   two heels' difference tells the swinging foot from the stance foot, which the feet's common
//   motion (a camera that tilts to follow the walker) cannot fake;
// - toe-off is the instant of the heel's fastest rise before that peak;
// - initial contact, walking toward the camera, is the heel's lowest point (against the feet's
//   path) after the peak and before the same foot's next swing: landing and coming nearer both
//   move it down in the image, and then it stops. Walking away, the swing carries the heel up
//   in the image while it lowers, and a foot at rest drifts against the path as the walker moves
//   on, so contact is where the heel's descent after its steepest point slows to that drift.
// Signals are low-passed at 6 Hz forward and backward as in the side view (Stenum et al. 2021).
// On the labelled front-view clip (tests/data/gait_labels, 30 frames/s, a walker with a cane and
// a camera that follows him) toe-offs fell within 1 frame of the labels (one 3 early) and
// contacts within 4 frames for 6 of 7 but within 2 for only 3 (mean absolute error 2.7 frames,
// no bias); two labellers differed there by 0.9 frames on contacts. So stance, swing and double
// support, a few % of the stride apart, are not reported from these views; step and stride
// times and cadence are (frontal_events_test.cpp, bench/gait/DEV_SET_RESULTS.md).
//
// View. Seen from the side the hips overlap in the image; from the front or back they lie
// about a tenth of the stature apart, and in between (oblique) less. The walk's direction along
// the camera's axis is the change of the walker's apparent size (growing: toward the camera);
// where the size hardly changes, which way the model saw the walker facing decides (its left
// hip on the image's right: facing the camera).
//
// Left and right are the subject's own: facing the camera the subject's left foot is on the
// image's right, walking away on the image's left. The pose model's labels are used when they
// agree with that in most of the pass; otherwise (the model read the walker as facing the
// other way) they are exchanged for the whole pass.
#pragma once

#include <cstddef>
#include <vector>

#include "gait/gait_keypoints.h"

namespace dancer::analysis {

// Analyses samples[a, b), a run of usable frames that held no side-view pass, as a walk seen
// from the front, back or obliquely. Appends at most one pass (with its view, direction, steps,
// strides and cadence) and its events to `passes` and `events` (the events carry the new pass's
// index) and returns true; returns false and appends nothing when the run holds fewer than two
// contacts.
bool analyse_frontal_run(const std::vector<KeypointGaitBuilder::Sample>& samples, std::size_t a,
                         std::size_t b, double fps, const KeypointGaitConfig& config,
                         std::vector<WalkingPass>& passes, std::vector<FootEvent>& events);

// A hallway walk toward the camera, a turn and back (or the reverse): samples[a, b) split where
// the walker turns to face the other way (the model's left hip crosses to the other side of its
// right, smoothed over half a second so that a hip crossing for a frame or two is no turn), each
// part analysed by analyse_frontal_run as its own pass. Returns whether any pass was found.
bool analyse_frontal_walk(const std::vector<KeypointGaitBuilder::Sample>& samples, std::size_t a,
                          std::size_t b, double fps, const KeypointGaitConfig& config,
                          std::vector<WalkingPass>& passes, std::vector<FootEvent>& events);

}  // namespace dancer::analysis
