/**
 * Serves the API on the seller's own domain (a regional endpoint with the seller's ACM certificate) and, when the
 * seller names their Route 53 hosted zone, points the domain at it. Without the zone the seller adds the DNS record.
 */
import { Arn, ArnFormat, Aws, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';
import { DomainName, EndpointType, SecurityPolicy, type RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayDomain } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import type { Config } from './config.ts';

export interface CustomDomainProps {
  readonly api: RestApi;
  readonly domain: NonNullable<Config['api']['customDomain']>;
}

export class CustomDomain extends Construct {
  /** `https://<domain>/`: the API's stage at the domain's root. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: CustomDomainProps) {
    super(scope, id);
    const { domain } = props;
    this.requireCertificateInStackRegion(domain.certificateArn);
    const domainName = new DomainName(this, 'DomainName', {
      domainName: domain.domainName,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn),
      endpointType: EndpointType.REGIONAL,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    domainName.addBasePathMapping(props.api, { stage: props.api.deploymentStage });
    this.url = `https://${domain.domainName}/`;

    if (domain.hostedZoneId !== undefined && domain.hostedZoneName !== undefined) {
      new ARecord(this, 'AliasRecord', {
        zone: HostedZone.fromHostedZoneAttributes(this, 'HostedZone', {
          hostedZoneId: domain.hostedZoneId,
          zoneName: domain.hostedZoneName,
        }),
        recordName: domain.domainName,
        target: RecordTarget.fromAlias(new ApiGatewayDomain(domainName)),
      });
    }
  }

  /**
   * A regional domain takes a certificate of its own region. The configuration checks a configured region; a stack
   * deployed wherever the credentials point checks at deployment, before CloudFormation creates anything.
   */
  private requireCertificateInStackRegion(certificateArn: string): void {
    if (!Token.isUnresolved(Stack.of(this).region)) return;
    const certificateRegion = Arn.split(certificateArn, ArnFormat.SLASH_RESOURCE_NAME).region;
    new CfnRule(this, 'CertificateRegion', {
      assertions: [
        {
          assert: Fn.conditionEquals(Aws.REGION, certificateRegion),
          assertDescription:
            `marketplace.api.customDomain.certificateArn is a certificate in ${certificateRegion}: a regional API ` +
            'domain takes a certificate of its own region. Deploy to that region, or name a certificate in the ' +
            'region you deploy to.',
        },
      ],
    });
  }
}
