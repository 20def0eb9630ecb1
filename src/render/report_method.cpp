// The clinical report's Method and limitations section.
#include "render/report_parts.h"

#include <string>

#include "gait/gait_kinematics.h"

namespace dancer::analysis::report {

void method_section(std::string& out) {
  out +=
      "<section id=\"method\"><h2>Method and limitations</h2><p>Body keypoints were located "
      "in every frame by BlazePose " +
      cite("bazarevsky2020") +
      ". Walking passes across the picture were found from the pelvis's steady travel. Initial "
      "contact is the heel's largest reach ahead of the pelvis and toe-off the toe's largest "
      "reach behind it (Zeni et al. " +
      cite("zeni2008") +
      "), after a 6 Hz zero-phase low-pass, as validated on side-view video against motion "
      "capture by Stenum et al. " +
      cite("stenum2021") +
      ", who found event timing within about 0.02 s. Lengths are measured in body heights "
      "(nose to heel in the picture divided by 0.87) and converted to metres with the "
      "subject's height when it is given. Joint angles are projected 2D angles in the image "
      "plane.</p><p>Limitations: one camera sees one plane. Out-of-plane motion, a walker not "
      "square to the camera, lens distortion and the far leg hidden behind the near one "
      "distort angles and lengths; frontal- and transverse-plane measures cannot be made. "
      "Events are accurate to about one frame. A few strides give uncertain means and very "
      "uncertain variability.";
  // What the kinematics' limits say (kinematics.limits).
  out += " <span class=\"note\">" + esc(kKinematicsLimits) + "</span>";
  out += "</p></section>";
}

}  // namespace dancer::analysis::report
