import { expect } from "chai";
import { CalibrationInputError, parseCalibration } from "../../../actors-ts/durability/calibration";
import { wilson } from "../../../actors-ts/durability/stats";

describe("durability calibration input", () => {
  it("turns fault-to-repair epochs into hours", () => {
    const c = parseCalibration({ epochSeconds: 30, faultToRepairEpochs: [120, 5_760], source: "soak" });
    expect(c).to.deep.equal({ faultToRepairHours: [1, 48], source: "soak" });
  });

  it("takes the demo's repaired entries, decimal strings included", () => {
    const c = parseCalibration({
      epochSeconds: 1,
      repaired: [{ index: 0, faultEpoch: "100", confirmedEpoch: "3700" }],
    });
    expect(c.faultToRepairHours).to.deep.equal([1]);
  });

  it("names the field that is wrong", () => {
    expect(() => parseCalibration({ epochSeconds: 0, faultToRepairEpochs: [1] })).to.throw(
      CalibrationInputError,
      /epochSeconds/,
    );
    expect(() => parseCalibration({ epochSeconds: 30 })).to.throw(CalibrationInputError, /faultToRepairEpochs/);
    expect(() => parseCalibration({ epochSeconds: 30, repaired: [{ faultEpoch: 9, confirmedEpoch: 3 }] })).to.throw(
      CalibrationInputError,
      /confirmed before its fault/,
    );
  });
});

describe("Wilson interval", () => {
  it("matches the textbook figures and bounds zero successes by about z² / n", () => {
    const i = wilson(10, 100);
    expect(i.lo).to.be.closeTo(0.0552, 1e-4);
    expect(i.hi).to.be.closeTo(0.1744, 1e-4);
    expect(wilson(0, 1e6).hi).to.be.closeTo(3.84e-6, 1e-8);
    expect(() => wilson(3, 0)).to.throw(RangeError);
  });
});
